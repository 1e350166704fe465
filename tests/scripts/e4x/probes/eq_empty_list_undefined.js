var x = <a id="1"><b/></a>;
print(x.@zz == undefined, x.@id == undefined, x.nothere == undefined, x.b == undefined);
print(x.@zz != undefined, x.@id != undefined);
