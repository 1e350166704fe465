var o = {a: 1};
print("a" in o, "b" in o);
