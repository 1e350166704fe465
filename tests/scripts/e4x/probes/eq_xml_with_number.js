var x = <a>5</a>;
print(x == 5, x == 6, x != 5);
