var x = <a/>;
var l = <r><b/><c/></r>.*;
x.appendChild(l);
print(x.toXMLString());
