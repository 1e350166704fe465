var x = <a><b><c>1</c></b><b><c>2</c></b></a>;
print(x.b.c.length());
print(x.b.c.toXMLString());
