var l = new XMLList();
print(typeof l, typeof new XML("<a/>"));
