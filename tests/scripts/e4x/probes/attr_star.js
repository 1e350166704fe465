var x = <a b="1" c="2"/>;
print(x.@*.length());
var names = [];
for each (var at in x.@*) names.push(at.name().toString());
print(names.sort().join(","));
