var x = <a/>;
print(x.@id == "", x.zz == "");
