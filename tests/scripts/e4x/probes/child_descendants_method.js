var x = <a><b><c/></b><c/></a>;
print(x.descendants("c").length(), x.descendants().length());
