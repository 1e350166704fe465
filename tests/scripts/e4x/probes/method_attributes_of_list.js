var x = <a><b p="1"/><b p="2" q="3"/></a>;
print(x.b.attributes().length());
