var x = <a id="t"><v>t</v></a>;
print(x.@id == x.v, x.v == x.@id);
