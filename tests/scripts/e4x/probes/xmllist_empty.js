var l = new XMLList();
print(l.length(), l.toXMLString() === "");
