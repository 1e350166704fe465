var x = <a><![CDATA[<not a tag> & stuff]]></a>;
print(x.toString());
