var res = new XML('<recipient-collection><recipient id="1" email="a@x"/><recipient id="2" email="b@x"/></recipient-collection>');
var emails = [];
for each (var r in res.recipient) emails.push(String(r.@email));
print(emails.join(";"), res.recipient.length());
