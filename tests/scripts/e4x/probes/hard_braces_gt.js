var a = 3, b = 2;
var x = <r v={a > b ? "a" : "b"}>{a > b}{a < b}</r>;
print(x.toXMLString());
