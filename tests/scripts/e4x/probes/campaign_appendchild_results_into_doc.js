var res = new XML('<rs><r id="1"/><r id="2"/></rs>');
var out = <out/>;
for each (var r in res.r) out.appendChild(r);
out.r[0].@id = "9";
print(out.toXMLString(), res.r[0].@id);
