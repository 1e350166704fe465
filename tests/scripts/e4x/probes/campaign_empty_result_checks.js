var res = new XML('<recipient-collection/>');
if (res.recipient.length() == 0) print("none");
print(res.children().length(), res.recipient.toXMLString() === "");
