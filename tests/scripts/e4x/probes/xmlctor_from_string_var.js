var s = "<rec id='" + 3 + "'/>";
var x = new XML(s);
print(x.@id);
