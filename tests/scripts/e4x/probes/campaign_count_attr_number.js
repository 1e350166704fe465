var res = <recipient count="12"/>;
var c = parseInt(res.@count);
print(c, typeof c, c > 10);
