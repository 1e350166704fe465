var x = <r><a/></r>;
x.* += <b/>;
print(x.toXMLString());
