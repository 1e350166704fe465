var x = <r><a id="1">t</a></r>;
print(x.a.name(), x.a.@id, x.a.toString());
