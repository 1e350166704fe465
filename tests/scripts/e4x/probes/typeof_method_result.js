var x = <a id="1"/>;
print(typeof x.toXMLString(), typeof x.length(), typeof x.@id.toString());
