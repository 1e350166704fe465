var x = <a one="1" two="2"/>;
print(x.attributes().length());
