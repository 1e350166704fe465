var x = <a><b>1</b><b>2</b></a>;
print(x.b.text().length(), x.b.text());
