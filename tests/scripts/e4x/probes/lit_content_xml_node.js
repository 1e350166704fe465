var c = <child k="1"/>;
var x = <parent>{c}</parent>;
print(x.toXMLString());
print(x.child.@k);
