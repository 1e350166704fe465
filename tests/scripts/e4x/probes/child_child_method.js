var x = <a><b>1</b><c>2</c></a>;
print(x.child("c"), x.child(0).name());
