var o = {a: {b: 1}};
print(o && o.a && o.a.b, o.z && o.z.b);
