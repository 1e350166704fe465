var ok = true;
var x;
if (ok) x = <yes/>;
print(x.name());
