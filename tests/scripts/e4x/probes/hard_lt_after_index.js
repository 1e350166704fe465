var arr = [1, 5];
print(arr[0] < arr[1], arr[0]<arr[1]);
