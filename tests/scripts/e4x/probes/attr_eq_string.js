var x = <a id="1"/>;
print(x.@id == "1", x.@id != "1", x.@id == "2");
