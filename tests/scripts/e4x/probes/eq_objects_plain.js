var o = {}, p = {};
print(o == p, o == o, o != p);
