var c = <c/>;
var a = <a>{c}</a>;
c.@x = "1";
print(a.toXMLString());
