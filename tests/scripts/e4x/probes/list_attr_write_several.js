var x = <r><b a="1"/><b a="2"/></r>;
try { x.b.@a = "9"; print(x.toXMLString()); } catch (e) { print("err", e.name); }
delete x.b.@a;
print(x.toXMLString());
