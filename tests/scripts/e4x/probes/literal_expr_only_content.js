var v = "only";
var x = <r>{v}</r>;
print(x.toString(), x.children().length());
