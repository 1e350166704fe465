var x = <r><i>1</i><i>2</i></r>;
print("items: " + x.i);
