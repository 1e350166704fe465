var x = <a><b/></a>;
x.prependChild(<first/>);
print(x.toXMLString());
