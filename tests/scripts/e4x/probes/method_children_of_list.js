var x = <a><b><c/><d/></b><b><e/></b></a>;
print(x.b.children().length());
