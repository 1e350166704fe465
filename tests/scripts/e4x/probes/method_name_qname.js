var x = <item/>;
var n = x.name();
print(n, typeof n, n.localName);
