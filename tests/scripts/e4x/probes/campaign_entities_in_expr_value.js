var name = "R&D <team>";
var doc = <org name={name}>{name}</org>;
print(doc.@name);
print(doc.toString());
print(doc.toXMLString());
