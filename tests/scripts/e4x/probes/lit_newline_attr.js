var v = "line1\nline2";
var x = <a v={v}/>;
print(x.@v == v);
