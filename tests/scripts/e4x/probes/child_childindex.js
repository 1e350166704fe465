var x = <a><b/><c/><d/></a>;
print(x.d.childIndex(), x.b.childIndex());
