var x = <a><b/>text<c/></a>;
print(x.elements().length(), x.elements("c").length());
