var x = <r><a id="1"/><a id="2"/></r>;
print(x.a.@id.toString());
