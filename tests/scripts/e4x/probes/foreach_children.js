var x = <a><b/><c/></a>;
for each (var c in x.*) print(c.name());
