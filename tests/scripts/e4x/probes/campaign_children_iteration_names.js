var doc = <recipient><email>a@x</email><lastName>L</lastName><age>3</age></recipient>;
var out = [];
for each (var c in doc.*) out.push(c.name() + "=" + c);
print(out.join("&"));
