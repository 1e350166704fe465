var x = <a id="1"/>;
print(x.@id === "1", String(x.@id) === "1");
