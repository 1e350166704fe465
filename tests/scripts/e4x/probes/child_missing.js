var x = <a/>;
print(x.nothing.length(), "[" + x.nothing + "]");
