var x = <a><b/><c/><d/></a>;
print(x.children().length());
print(x.toXMLString());
