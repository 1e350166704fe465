var res = new XML('<recipient-collection/>');
print(res.recipient.length() == 0, res.recipient.@id.length() == 0);
