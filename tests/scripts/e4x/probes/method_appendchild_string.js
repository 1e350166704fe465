var x = <a><b/></a>;
x.appendChild("tail");
print(x.toXMLString());
