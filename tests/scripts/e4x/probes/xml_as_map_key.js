var x = <a id="k1"/>;
var m = {};
m[x.@id] = 1;
print(Object.keys(m).join(","));
