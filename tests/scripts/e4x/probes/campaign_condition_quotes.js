var email = "o'brien@example.com";
var c = <condition expr={"@email = '" + email + "'"}/>;
print(c.@expr);
print(c.toXMLString());
