var x = <a><b/><c/><b/></a>;
delete x.b;
print(x.toXMLString());
