var s = <r>{[1, 2, 3]}</r>;
print(s.toString());
var o = <r>{ {a: 1} }</r>;
print(o.toString());
print((<a>1</a>).toString(), (<a>1</a>).length());
var L = <><a/><b/></>;
print(L.length(), typeof L, L[0].name());
