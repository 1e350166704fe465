var x = new XML("plain text");
print(x.nodeKind(), x.toString());
