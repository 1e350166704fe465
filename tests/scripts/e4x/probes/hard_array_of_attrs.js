var x = <r><a id="1"/><a id="2"/></r>;
var ids = [];
for (var i = 0; i < x.a.length(); i++) ids.push(String(x.a[i].@id));
print(ids.join("|"));
