var a = "x", b = "x";
print(a == b);
