var x = <a/>;
print(x.toXMLString());
print(x.name());
