var x = <r xmlns:p="http://p"><p:item>1</p:item></r>;
print(x.children().length());
