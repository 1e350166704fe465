var x = <a/>;
var r = x.appendChild(<b/>);
print(r === x, r.name());
