var res = <list><i v="3"/><i v="1"/><i v="2"/></list>;
var arr = [];
for each (var i in res.i) arr.push(Number(i.@v));
arr.sort();
print(arr.join(","));
