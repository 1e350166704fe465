var x = <a/>;
x.b.@k = "v";
print(x.toXMLString());
