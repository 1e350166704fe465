var s = "<b>&amp;</b>";
var x = <a>{s}</a>;
print(x.toXMLString());
print(x.toString());
