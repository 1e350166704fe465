var flag = false;
var x = flag ? <yes/> : <no/>;
print(x.name());
