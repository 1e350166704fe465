var l = new XMLList("<a/><b/>");
print(l.length(), l[1].name());
