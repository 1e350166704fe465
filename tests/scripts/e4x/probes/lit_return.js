function make(i) { return <item n={i}/>; }
print(make(3).@n);
