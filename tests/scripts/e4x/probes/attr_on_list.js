var l = <r><a id="1"/><a id="2"/></r>.a;
print(l.@id.length());
print(l.@id.toXMLString());
