var x = <a>v</a>;
print(x.valueOf() === x, x.valueOf().toString());
