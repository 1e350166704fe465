var doc = <recipient xtkschema="nms:recipientStg" _key="@email" _operation="update" email="a@x" firstName="Al"/>;
print(doc.@_key, doc.@_operation, doc.attributes().length());
