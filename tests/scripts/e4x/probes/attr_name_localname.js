var x = <a id="1"/>;
print(x.@id.name(), x.@id.localName());
