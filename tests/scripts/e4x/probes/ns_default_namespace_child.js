var x = <a xmlns="http://example.com/u"><b>1</b></a>;
print(x.b.length());
