var res = <rs><r s="a" v="1"/><r s="b" v="2"/><r s="a" v="3"/></rs>;
var want = "a", total = 0;
for each (var r in res.r.(@s == want)) total += Number(r.@v);
print(total);
