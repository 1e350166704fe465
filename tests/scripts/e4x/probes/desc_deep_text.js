var x = <r><a><b><name>x</name></b></a><name>y</name></r>;
var names = [];
for each (var n in x..name) names.push(String(n));
print(names.join(","));
