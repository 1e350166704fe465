var x = <a xmlns:ns="http://example.com/ns" ns:flag="1" plain="2"/>;
print(x.@plain);
print(x.toXMLString());
