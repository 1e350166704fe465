var v = 1;
var x = <rec a="{v}" b='{v}'/>;
print(x.@a, x.@b);
