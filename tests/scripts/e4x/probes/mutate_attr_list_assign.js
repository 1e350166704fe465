var x = <r><a/></r>;
x.a.@k = "1";
print(x.toXMLString());
