var x = <a><b>1</b><b>2</b></a>;
print(x.b.toString());
