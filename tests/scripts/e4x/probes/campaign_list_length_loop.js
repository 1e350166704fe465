var res = <rs><r/><r/><r/></rs>;
for (var i = 0; i < res.r.length(); i++) res.r[i].@n = i;
print(res.toXMLString());
