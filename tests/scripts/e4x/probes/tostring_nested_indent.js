var x = <a><b><c>1</c><d/></b>t</a>;
print(x.toXMLString());
