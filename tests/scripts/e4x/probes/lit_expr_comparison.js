var a = 5, b = 3;
var x = <r big={a > b}>{a > b}</r>;
print(x.toXMLString());
