var v;
var x = <a>{v}</a>;
print(x.toXMLString());
