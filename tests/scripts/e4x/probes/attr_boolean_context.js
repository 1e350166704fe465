var x = <a f=""/>;
print(x.@f ? "truthy" : "falsy", x.@zz ? "truthy" : "falsy");
