var x = <note>He said "hi" and it's fine</note>;
print(x, x.toXMLString());
