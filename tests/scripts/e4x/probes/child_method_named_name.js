var p = <person><name>Ann</name><text>hello</text></person>;
print(p.name);
print(p.text);
print(p.name());
