var x = <a n="2"/>;
print(x.@n + 3, x.@n - 1);
