var name = "Ann";
var x = <recipient
    email="ann@example.com"
    firstName={name}>
  <note>hi</note>
</recipient>;
print(x.@firstName);
print(x.note);
print(x.toXMLString());
