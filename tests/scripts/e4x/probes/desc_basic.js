var x = <a><b><c id="1"/></b><c id="2"/></a>;
print(x..c.length());
print(x..c.@id.toXMLString());
