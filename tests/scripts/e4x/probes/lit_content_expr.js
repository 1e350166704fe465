var n = "world";
var x = <greet>hello {n}</greet>;
print(x.toString());
print(x.toXMLString());
