var arr = [1, 2];
var b = arr.concat([3]);
print(b.length, 1.5.toFixed(1), 2..toString());
