var x = <a offer-id="9"/>;
print(x.@["offer-id"]);
var k = "offer-id";
print(x.@[k]);
