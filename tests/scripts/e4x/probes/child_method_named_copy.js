var x = <a><copy>yes</copy></a>;
print(x.copy);
print(x.copy().name());
