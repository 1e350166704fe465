var x = <a><b>1</b><b>2</b></a>;
var out = [];
for each (let b in x.b) out.push(b.toString());
print(out.join(""));
