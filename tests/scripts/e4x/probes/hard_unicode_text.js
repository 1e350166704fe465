var x = <a>Grüße {"日本"}</a>;
print(x);
