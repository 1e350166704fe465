var x = <a n="1"/>;
x.@n = Number(x.@n) + 1;
print(x.@n);
