var data = JSON.parse('{"email":"a@b","n":2}');
var x = <r email={data.email} n={data.n}/>;
print(x.toXMLString());
