var x = <a id="1">text</a>;
print(x, String(x), x + "");
