var r = <row created="2024-03-05 10:11:12"/>;
var parts = String(r.@created).split(" ")[0].split("-");
print(parts.join("/"), parts.length);
