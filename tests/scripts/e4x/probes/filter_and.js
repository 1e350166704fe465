var x = <a><b p="1" q="1"/><b p="1" q="2"/></a>;
print(x.b.(@p == "1" && @q == "2").length());
