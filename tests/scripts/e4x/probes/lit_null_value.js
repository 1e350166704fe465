var v = null;
var x = <a v={v}>{v}</a>;
print(x.toXMLString());
