var doc = <msg/>;
doc.appendChild("Hello");
doc.appendChild(<b>you</b>);
print(doc.toXMLString(), doc.text());
