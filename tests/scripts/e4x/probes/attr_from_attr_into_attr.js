var src = <s id="7"/>;
var x = <a ref={src.@id}/>;
print(x.toXMLString());
