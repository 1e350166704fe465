var x = <a><b>1</b><b>2</b></a>;
print(x.b.contains(<b>2</b>), x.b.contains(<b>3</b>));
