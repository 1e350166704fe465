var x = <a><b><c/></b></a>;
print(x..*.length());
