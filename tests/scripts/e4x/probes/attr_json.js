var x = <a id="5"/>;
print(JSON.stringify({id: String(x.@id)}));
