var s = "a";
s += "b";
s += 1;
print(s);
