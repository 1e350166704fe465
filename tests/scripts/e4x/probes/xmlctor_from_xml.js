var a = <a><b/></a>;
var b = new XML(a);
b.b = "changed";
print(a.toXMLString(), b.b);
