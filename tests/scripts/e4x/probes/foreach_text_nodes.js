var x = <a>t1<b/>t2</a>;
var kinds = [];
for each (var c in x.*) kinds.push(c.nodeKind());
print(kinds.join(","));
