var x = <a n="12"/>;
print(x.@n * 2, x.@n + 1, Number(x.@n) + 1);
