var x = <a><b><c/></b></a>;
print(x.b.c.parent().name(), x.b.parent().name());
