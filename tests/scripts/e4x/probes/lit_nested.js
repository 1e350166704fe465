var x = <a><b><c>deep</c></b></a>;
print(x.toXMLString());
print(x.b.c);
