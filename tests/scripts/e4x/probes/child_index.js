var x = <a><b>1</b><b>2</b><b>3</b></a>;
print(x.b[0], x.b[2], x.b.length());
