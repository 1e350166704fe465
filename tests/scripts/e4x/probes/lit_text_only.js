var x = <a>just text</a>;
print(x.hasSimpleContent(), x.hasComplexContent());
