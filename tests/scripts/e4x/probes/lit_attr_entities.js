var x = <a v="&lt;&amp;&gt;&quot;"/>;
print(x.@v);
print(x.toXMLString());
