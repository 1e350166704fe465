var x = <a/>;
x.n = 5;
print(x.n, x.n == 5);
