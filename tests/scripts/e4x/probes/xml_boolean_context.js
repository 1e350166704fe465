var x = <a/>;
print(x ? "t" : "f", x.zz ? "t" : "f", x.zz.length() ? "t" : "f");
