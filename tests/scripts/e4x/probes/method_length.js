var x = <a><b/><b/><c/></a>;
print(x.length(), x.b.length(), x.*.length(), x.zz.length());
