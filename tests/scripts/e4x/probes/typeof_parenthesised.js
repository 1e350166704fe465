var x = <a/>;
print(typeof (x), typeof(x.b));
