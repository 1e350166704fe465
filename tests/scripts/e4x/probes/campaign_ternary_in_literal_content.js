var vip = false;
var doc = <r><level>{vip ? "gold" : "std"}</level></r>;
print(doc.level);
