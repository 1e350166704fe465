var x = <r>old</r>;
x.setChildren("new");
print(x.toString());
