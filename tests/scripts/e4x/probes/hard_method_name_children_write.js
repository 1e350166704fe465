var p = <person/>;
p.name = "Zed";
print(p.toXMLString());
print(p.name);
