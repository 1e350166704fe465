var x = <a><b>1</b></a>;
x.b[x.b.length()] = <b>2</b>;
print(x.toXMLString());
