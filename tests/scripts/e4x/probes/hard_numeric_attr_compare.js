var x = <a n="10"/>;
print(x.@n > 9, x.@n < 9, x.@n >= 10);
