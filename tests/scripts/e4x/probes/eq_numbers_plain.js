var i = 3, j = 3;
print(i == j, i != j, null == undefined, "1" == 1);
