var x = <a id="1"/>;
x.@id = "2";
print(x.toXMLString());
