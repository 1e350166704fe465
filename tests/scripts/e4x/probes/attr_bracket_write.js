var x = <a/>;
x.@["data-x"] = "1";
print(x.toXMLString());
