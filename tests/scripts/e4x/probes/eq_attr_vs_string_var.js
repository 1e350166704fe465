var x = <a id="k"/>;
var s = "k";
print(x.@id == s, s == x.@id, x.@id != s);
