var x = <a><b>1</b><b>2</b></a>, y = <a><b>1</b></a>;
print(x.b == y.b, x.b == x.b);
