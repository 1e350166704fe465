var x = <a><b v="1"/><b v="2"/></a>;
var want = "2";
print(x.b.(@v == want).@v);
