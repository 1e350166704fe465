var x = <r><b id="1"/><b id="2"/></r>;
print(x.b.@id == 1, x.b.@id == "12");
