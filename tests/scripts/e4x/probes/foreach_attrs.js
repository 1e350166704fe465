var x = <a p="1" q="2"/>;
var vals = [];
for each (var at in x.@*) vals.push(String(at));
print(vals.sort().join(","));
