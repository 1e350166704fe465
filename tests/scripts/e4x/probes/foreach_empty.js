var x = <a/>;
var n = 0;
for each (var b in x.b) n++;
print(n);
