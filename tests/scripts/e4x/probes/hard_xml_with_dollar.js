var $v = "d";
var x = <a v={$v}/>;
print(x.@v);
