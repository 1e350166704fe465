function rec(email, name) {
  var r = <recipient/>;
  r.@email = email;
  if (name) r.@lastName = name;
  return r;
}
var coll = <recipient-collection/>;
coll.appendChild(rec("a@x", "A"));
coll.appendChild(rec("b@x"));
print(coll.toXMLString());
print(coll.recipient.(@lastName == "A").@email);
