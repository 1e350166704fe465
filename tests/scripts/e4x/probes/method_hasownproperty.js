var x = <r a="1"><b/></r>;
print(x.hasOwnProperty("b"), x.hasOwnProperty("c"), x.hasOwnProperty("@a"), x.hasOwnProperty("@z"));
