var doc = <recipient email="a@x" lastName="L"/>;
var o = {};
for each (var a in doc.@*) o[a.name()] = String(a);
print(JSON.stringify(o));
