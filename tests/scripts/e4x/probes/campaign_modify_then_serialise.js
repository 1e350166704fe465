var r = <recipient email="a@x"/>;
r.@firstName = "Ann";
r.@email = String(r.@email).toUpperCase();
delete r.@missing;
print(r.toXMLString());
