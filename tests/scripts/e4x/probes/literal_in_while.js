var i = 0, l = new XMLList();
while (i < 2) { l += <n>{i}</n>; i++; }
print(l.length());
