var x = <r><a>1</a><a>2</a><a>3</a></r>;
var out = [];
for each (var a in x.a) { if (a == "2") continue; out.push(String(a)); }
print(out.join(","));
