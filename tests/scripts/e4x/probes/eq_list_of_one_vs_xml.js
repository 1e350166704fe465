var x = <r><b>1</b></r>;
print(x.b == <b>1</b>, x.b[0] == x.b);
