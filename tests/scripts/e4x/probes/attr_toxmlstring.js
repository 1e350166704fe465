var x = <a id="5"/>;
print(x.@id.toXMLString());
