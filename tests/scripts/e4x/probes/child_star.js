var x = <a><b/>t<c/></a>;
print(x.*.length());
print(x.*[0].name());
