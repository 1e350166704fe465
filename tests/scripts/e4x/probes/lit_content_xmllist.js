var l = <a><b>1</b><b>2</b></a>.b;
var x = <wrap>{l}</wrap>;
print(x.toXMLString());
print(x.b.length());
