var v = 'a<b & "c"';
var x = <rec v={v}/>;
print(x.toXMLString());
print(x.@v);
