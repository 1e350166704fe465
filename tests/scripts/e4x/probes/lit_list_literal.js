var l = <><a/><b/></>;
print(l.length());
print(l.toXMLString());
