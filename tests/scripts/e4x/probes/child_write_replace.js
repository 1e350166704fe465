var x = <a><b>old</b></a>;
x.b = "new";
print(x.toXMLString());
