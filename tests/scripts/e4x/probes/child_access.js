var x = <a><b>1</b><c>2</c></a>;
print(x.b, x.c);
