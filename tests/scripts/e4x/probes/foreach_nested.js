var x = <a><r><v>1</v><v>2</v></r><r><v>3</v></r></a>;
for each (var r in x.r) { var s = []; for each (var v in r.v) s.push(String(v)); print(s.join("+")); }
