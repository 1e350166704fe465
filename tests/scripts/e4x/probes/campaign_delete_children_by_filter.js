var doc = <rs><r k="1"/><r k="2"/><r k="3"/></rs>;
for (var i = doc.r.length() - 1; i >= 0; i--) if (doc.r[i].@k == "2") delete doc.r[i];
print(doc.toXMLString());
