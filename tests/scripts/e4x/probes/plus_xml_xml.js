var a = <a>x</a>, b = <b>y</b>;
var l = a + b;
print(typeof l, l);
