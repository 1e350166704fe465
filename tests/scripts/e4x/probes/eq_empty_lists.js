var x = <a/>;
print(x.b == x.c);
