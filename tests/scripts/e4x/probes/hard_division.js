var a = 10, b = 2, g = 5;
var c = a / b / g;
print(c, a/b);
