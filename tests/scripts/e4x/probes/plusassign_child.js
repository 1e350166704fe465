var x = <r><item>1</item></r>;
x.item += <item>2</item>;
print(x.item.length());
print(x.toXMLString());
