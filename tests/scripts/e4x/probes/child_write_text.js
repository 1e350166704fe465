var x = <a/>;
x.b = "text";
print(x.toXMLString());
