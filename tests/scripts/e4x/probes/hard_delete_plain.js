var o = {a: 1, b: 2};
delete o.a;
print(Object.keys(o).join(","));
