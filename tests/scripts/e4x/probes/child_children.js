var x = <a><b/>text<!--c--></a>;
print(x.children().length());
