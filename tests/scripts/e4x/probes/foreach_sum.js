var x = <a><v>1</v><v>2</v><v>3</v></a>;
var s = 0;
for each (var v in x.v) s += Number(v);
print(s);
