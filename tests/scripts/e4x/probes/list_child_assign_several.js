var y = <r><b>1</b><b>2</b></r>;
y.b = "z";
print(y.toXMLString());
