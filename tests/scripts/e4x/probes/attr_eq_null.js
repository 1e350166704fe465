var x = <a id="1"/>;
print(x.@id == null, x.@zz == null);
print(x.@id != null, x.@zz != null);
