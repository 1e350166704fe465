var tpl = <recipient xtkschema="nms:recipientStg" origin="import"/>;
var a = tpl.copy(); a.@email = "a@x";
var b = tpl.copy(); b.@email = "b@x";
print(a.toXMLString());
print(b.toXMLString());
print(tpl.@email.length());
