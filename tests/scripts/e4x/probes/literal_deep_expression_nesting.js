var a = {b: {c: [1, {d: "deep"}]}};
var x = <r v={a.b.c[1].d}>{a.b.c[0] + 1}</r>;
print(x.toXMLString());
