var coll = <recipient-collection xtkschema="nms:recipientStg"/>;
var rows = [["a@x", "A"], ["b@x", "B"], ["c@x", "C"]];
for (var i = 0; i < rows.length; i++) coll.appendChild(<recipient email={rows[i][0]} lastName={rows[i][1]}/>);
print(coll.recipient.length(), coll.recipient[2].@email);
print(coll.toXMLString());
