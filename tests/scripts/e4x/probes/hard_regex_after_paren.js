var s = "a<b";
if (/</.test(s)) print("has lt");
var r = s.replace(/</g, "&lt;");
print(r);
