var x = <a><b>1</b><b>2</b></a>;
var b;
for each (b in x.b) print(b.toXMLString());
