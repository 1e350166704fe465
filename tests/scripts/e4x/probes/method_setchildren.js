var x = <a><b/><c/></a>;
x.setChildren(<z/>);
print(x.toXMLString());
