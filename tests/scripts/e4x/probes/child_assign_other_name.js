var x = <a><b>1</b><c/></a>;
x.b = <z>9</z>;
print(x.toXMLString());
