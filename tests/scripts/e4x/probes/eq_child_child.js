var a = <a><b>1</b></a>, b = <z><b>1</b></z>;
print(a.b == b.b);
