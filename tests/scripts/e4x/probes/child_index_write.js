var x = <a><b>1</b><b>2</b></a>;
x.b[1] = "two";
print(x.toXMLString());
