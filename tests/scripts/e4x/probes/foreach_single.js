var x = <a><b>only</b></a>;
for each (var b in x.b) print(b);
