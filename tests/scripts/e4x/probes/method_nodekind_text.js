var x = <a>t<b/></a>;
print(x.*[0].nodeKind(), x.*[1].nodeKind());
