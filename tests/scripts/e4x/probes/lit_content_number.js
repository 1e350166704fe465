var x = <a>{1 + 2}</a>;
print(x.toString(), typeof x.toString());
