var x = <a id="12"/>;
var s = String(x.@id);
print(typeof s, s, s.length);
