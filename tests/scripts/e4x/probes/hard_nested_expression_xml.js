var inner = <i>in</i>;
var x = <o>{inner.toString()}</o>;
print(x.toXMLString());
