var u = <r><a/></r>;
u.a[0].@x = 1;
u.a[0].b = "c";
print(u.toXMLString());
print(<r><a>1</a></r>.a.toString() + 1, <r><a>1</a></r>.a * 2);
