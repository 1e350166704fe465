var x = <a id="1"><b/></a>;
x.setName("renamed");
print(x.toXMLString());
