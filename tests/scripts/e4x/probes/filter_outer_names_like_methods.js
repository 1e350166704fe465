var name = "b", text = "2", parent = "p";
var x = <r><i n="b" v="1"/><i n="c" v="2"/></r>;
print(x.i.(@n == name).@v, x.i.(@v == text).@n, x.i.(@n != parent).length());
