var x = <r><a/><a/><a/></r>;
var i = 0;
while (i < x.a.length()) i++;
print(i);
