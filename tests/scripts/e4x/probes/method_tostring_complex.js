var x = <a><b>1</b></a>;
print(x.toString());
