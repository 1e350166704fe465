var email = "john.doe@example.com";
var doc = <recipient xtkschema="nms:recipientStg" email={email} firstName="John" lastName="Doe"/>;
print(doc.toXMLString());
print(doc.@xtkschema);
