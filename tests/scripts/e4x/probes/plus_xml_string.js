var x = <a>v</a>;
print(x + "!", "!" + x);
