var x = new XML("<a b='1'><c>t</c></a>");
print(x.@b, x.c, x.toXMLString());
