var x = <a><b/><d/></a>;
x.insertChildBefore(x.d[0], <c/>);
print(x.toXMLString());
