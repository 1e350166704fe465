var x = <a><b/><b/></a>;
var keys = [];
for (var k in x.b) keys.push(k);
print(keys.join(","));
