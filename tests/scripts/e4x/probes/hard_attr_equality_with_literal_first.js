var x = <a id="3"/>;
print("3" == x.@id, 3 == x.@id);
