var x = <a p="1"/>, y = <b p="1"/>;
print((x.@p) == (y.@p));
