var x = <a>&#65;&#x42;C</a>;
print(x.toString());
