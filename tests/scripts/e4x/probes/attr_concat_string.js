var x = <a first="A" last="B"/>;
print(x.@first + " " + x.@last);
