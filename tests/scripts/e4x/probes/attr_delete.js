var x = <a id="1" keep="2"/>;
delete x.@id;
print(x.toXMLString());
print(x.@id.length());
