var x = <a><b/></a>;
print(typeof x, typeof x.b, typeof x.@id, typeof x.zz);
