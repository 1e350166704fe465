var l = new XMLList();
l += <a/>;
l += <b/>;
print(l.length());
print(l.toXMLString());
