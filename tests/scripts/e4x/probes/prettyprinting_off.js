XML.prettyPrinting = false;
var x = <a><b>1</b><c/></a>;
print(x.toXMLString());
XML.prettyPrinting = true;
