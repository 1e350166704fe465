var z = <r/>;
z.appendChild(<>{"t"}<c/></>);
print(z.toXMLString());
var w = <r><a/></r>;
w.a.appendChild(<k/>);
print(w.toXMLString());
