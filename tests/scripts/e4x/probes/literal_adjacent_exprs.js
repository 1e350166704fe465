var a = "A", b = "B";
var x = <r>{a}{b}</r>;
print(x.toString());
