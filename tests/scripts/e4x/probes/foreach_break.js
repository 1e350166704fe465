var x = <a><b>1</b><b>2</b><b>3</b></a>;
for each (var b in x.b) { if (b == "2") break; print(b); }
