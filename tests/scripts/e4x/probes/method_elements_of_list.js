var x = <a><b><c/>t</b><b><c/></b></a>;
print(x.b.elements().length());
