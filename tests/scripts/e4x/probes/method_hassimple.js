var x = <a><b>t</b></a>;
print(x.hasSimpleContent(), x.b.hasSimpleContent(), x.hasComplexContent());
