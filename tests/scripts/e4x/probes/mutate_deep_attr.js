var x = <r><a><b/></a></r>;
x.a.b.@k = "v";
print(x.toXMLString());
