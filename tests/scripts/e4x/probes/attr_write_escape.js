var x = <a/>;
x.@v = '<"&>';
print(x.toXMLString());
print(x.@v);
