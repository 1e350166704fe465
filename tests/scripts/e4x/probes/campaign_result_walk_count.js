var res = new XML('<recipient-collection><recipient email="a@x" lastName="A"/><recipient email="b@x" lastName="B"/></recipient-collection>');
var n = 0;
for each (var r in res.recipient) { n++; print(n + ": " + r.@email + " / " + r.@lastName); }
print(res.recipient.length(), res.recipient.(@lastName == "B").@email);
