var x = XML("<a>1</a>");
print(x.toString(), typeof x);
