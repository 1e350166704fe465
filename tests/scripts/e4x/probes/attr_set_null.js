var x = <a/>;
x.@v = null;
print(x.toXMLString());
