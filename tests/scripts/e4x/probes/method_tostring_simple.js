var x = <a>simple</a>;
print(x.toString());
