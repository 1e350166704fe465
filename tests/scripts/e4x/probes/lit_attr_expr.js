var id = 42;
var x = <rec id={id} name={"Bob"}/>;
print(x.toXMLString());
print(x.@id, x.@name);
