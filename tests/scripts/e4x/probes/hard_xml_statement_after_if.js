var ok = true, r;
if (ok) r = <a>{1 < 2}</a>; else r = <b/>;
print(r.toString());
