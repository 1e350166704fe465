var a = "x", b = "y";
var x = <a v={a + "-" + b}/>;
print(x.@v);
