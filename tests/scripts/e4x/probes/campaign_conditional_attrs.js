function rec(email, name) {
  var r = <recipient email={email}/>;
  if (name != null) r.@lastName = name;
  return r;
}
print(rec("a@x", "A").toXMLString());
print(rec("b@x", null).toXMLString());
