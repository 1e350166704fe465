var x = <a></a>;
print(x.toXMLString(), x.children().length());
