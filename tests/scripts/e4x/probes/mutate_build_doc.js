var doc = <collection/>;
var people = [{e: "a@x", n: "A"}, {e: "b@x", n: "B"}];
for (var i = 0; i < people.length; i++) {
  doc.appendChild(<recipient email={people[i].e} lastName={people[i].n}/>);
}
print(doc.recipient.length());
print(doc.toXMLString());
