var o = {a: <a v="1"/>, n: 2};
print(o.a.@v, o.n);
