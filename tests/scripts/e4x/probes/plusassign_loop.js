var l = new XMLList();
for (var i = 0; i < 3; i++) l += <v>{i}</v>;
print(l.length(), l.toXMLString());
