var x = <a><b>old</b></a>;
x.b = <b k="1">new</b>;
print(x.toXMLString());
