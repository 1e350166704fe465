function f() { return (<a v="1"/>); }
print(f().@v);
