var x = <a n="10"/>;
print(x.@n / 2);
