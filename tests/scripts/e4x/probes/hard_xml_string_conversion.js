var x = <a><b>1</b></a>;
var s = "" + x.b;
print(s, typeof s);
