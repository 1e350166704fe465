var src = <s id="7"/>;
var x = <a>{src.@id}</a>;
print(x.toXMLString());
