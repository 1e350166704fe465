var x = new XML("<a>&lt;x&gt;</a>");
print(x.toString());
