var x = <r><a v="1"/><a v="2"/><a v="3"/></r>;
print(x.a.(@v != "2")[1].@v);
