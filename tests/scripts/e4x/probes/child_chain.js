var x = <a><b><c><d>deep</d></c></b></a>;
print(x.b.c.d);
