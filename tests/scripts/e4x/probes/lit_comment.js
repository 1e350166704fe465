var x = <a><!-- a comment --><b/></a>;
print(x.b.length());
print(x.toXMLString());
