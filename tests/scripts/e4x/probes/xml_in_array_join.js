var x = <r><i>1</i><i>2</i></r>;
var arr = [x.i[0], x.i[1]];
print(arr.join("+"));
