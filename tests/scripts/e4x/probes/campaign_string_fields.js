var r = <recipient email=" A@X.com " age="33"/>;
var email = String(r.@email).trim().toLowerCase();
var age = parseInt(r.@age, 10);
print("[" + email + "]", age + 1);
