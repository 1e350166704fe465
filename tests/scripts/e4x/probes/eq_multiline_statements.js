var x = <a p="1"/>
var y = <b p="1"/>
var r = x.@p == y.@p
print(r)
