var mk = (v) => <item v={v}/>;
print(mk(3).@v);
