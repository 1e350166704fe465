var x = <a>one<b>two</b>three</a>;
print(x.text().length());
print(x.text()[0], x.text()[1]);
