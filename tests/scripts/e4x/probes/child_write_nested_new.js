var x = <a/>;
x.b.c = "v";
print(x.toXMLString());
