var x = <a><b id="1" n="x"/><b id="2" n="y"/></a>;
print(x.b.(@id == "1").@n);
