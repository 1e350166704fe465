var n = 3;
var t = `<a>${n}</a> and ${n < 4}`;
print(t);
