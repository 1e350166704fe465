var i = 1, j = 2;
var x = <r a={i} b={j} c={i + j}/>;
print(x.@a, x.@b, x.@c);
