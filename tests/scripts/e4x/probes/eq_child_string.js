var x = <a><b>1</b></a>;
print(x.b == "1", x.b == 1, x.b == "2");
