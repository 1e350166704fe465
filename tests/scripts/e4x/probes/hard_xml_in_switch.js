var k = "b";
var x;
switch (k) { case "b": x = <b/>; break; default: x = <z/>; }
print(x.name());
