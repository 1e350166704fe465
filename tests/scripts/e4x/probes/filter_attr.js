var x = <a><b id="1">x</b><b id="2">y</b></a>;
print(x.b.(@id == "2"));
