var x = <a/>;
x.@id = 5;
print(x.toXMLString());
