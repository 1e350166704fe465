var x = <a><b>1</b></a>;
var y = x.copy();
y.b = "2";
print(x.b, y.b);
