var x = <a><b>1</b><b>2</b></a>;
delete x.b[0];
print(x.toXMLString());
