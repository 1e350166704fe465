var first = "Ann", last = "Lee";
var doc = <recipient fullName={first + " " + last} initials={first[0] + last[0]}/>;
print(doc.@fullName, doc.@initials);
