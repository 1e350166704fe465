var tag = "recipient";
var x = <{tag} email="a@b.c"/>;
print(x.toXMLString());
print(x.name());
