var x = <a><b>hello</b></a>;
print(x.b.toString().toUpperCase(), x.b.toString().length);
