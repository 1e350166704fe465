var o = {f: function () { return <a/>; }};
print(typeof o.f(), typeof o.f);
