var x = <a v='single "q"'/>;
print(x.@v);
print(x.toXMLString());
