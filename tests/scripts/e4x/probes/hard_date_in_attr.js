var d = new Date(Date.UTC(2020, 0, 2));
var x = <r y={d.getUTCFullYear()}/>;
print(x.@y);
