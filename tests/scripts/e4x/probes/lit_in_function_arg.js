function show(x) { return x.toXMLString(); }
print(show(<a b="1"/>));
