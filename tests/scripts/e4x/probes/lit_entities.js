var x = <a>&lt;tag&gt; &amp; &quot;q&quot; &apos;s&apos;</a>;
print(x.toString());
print(x.toXMLString());
