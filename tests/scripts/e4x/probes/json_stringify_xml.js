var x = <a id="1"><b>t</b></a>;
print(JSON.stringify(x));
print(JSON.stringify({v: x.@id, b: x.b}));
print(JSON.stringify([x.b[0]]));
