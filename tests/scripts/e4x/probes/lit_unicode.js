var x = <a name="Zoë">Ünïcödé €</a>;
print(x.@name, x.toString());
