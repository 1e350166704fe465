var x = <a><b v="1"/><b v="2"/><b v="3"/></a>;
print(x.b.(@v > 1).length());
