var x = <r><a k="1"/><a k="2"/><a k="3"/></r>;
delete x.a[1];
print(x.a.length(), x.a.@k.toXMLString());
