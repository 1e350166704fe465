var a = <r/>;
var b = a;
print(a == b, a === b);
