var x = <a/>;
print(x..zz.length());
