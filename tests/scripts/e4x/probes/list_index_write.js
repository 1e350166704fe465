var x = <r><a>1</a><a>2</a></r>;
x.a[0] = <a>one</a>;
print(x.toXMLString());
