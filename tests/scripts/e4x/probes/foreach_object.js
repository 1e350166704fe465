var o = {a: 1, b: 2};
var vals = [];
for each (var v in o) vals.push(v);
print(vals.sort().join(","));
