var x = <a id="7" name="n"/>;
print(x.@id);
print(x.@name);
