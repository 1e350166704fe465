var x = <a/>;
print(x.parent() === null, x.parent());
