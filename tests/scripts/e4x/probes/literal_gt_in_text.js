var x = <a>1 &gt; 0</a>;
print(x.toString(), x.toXMLString());
