var x = <a n="3"/>;
print(x.@n == 3, x.@n == 4);
