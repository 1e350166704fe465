var x = <a><b v="1"/></a>;
print(x.b.(@v == "9").length());
