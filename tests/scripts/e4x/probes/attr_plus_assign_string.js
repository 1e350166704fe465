var x = <a id="1"/>;
x.@id += "x";
print(x.@id);
