var arr = [<a/>, <b/>];
print(arr.length, arr[1].name());
