var a = 1, b = 2;
print(a < b, a<b, b > a);
for (var i = 0; i<2; i++) print(i);
