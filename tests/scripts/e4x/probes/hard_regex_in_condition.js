var x = <a email="john@example.com"/>;
var ok = /@example\.com$/.test(String(x.@email));
print(ok);
