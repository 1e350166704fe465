var x = <a><b/><d/></a>;
x.insertChildAfter(x.b[0], <c/>);
print(x.toXMLString());
