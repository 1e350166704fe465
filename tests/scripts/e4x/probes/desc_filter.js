var x = <r><g><i id="1"/><i id="2"/></g><i id="3"/></r>;
print(x..i.(@id != "2").length());
