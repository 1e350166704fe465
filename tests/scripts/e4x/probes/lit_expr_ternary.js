var vip = true;
var x = <r level={vip ? "gold" : "basic"}>{vip ? "yes" : "no"}</r>;
print(x.toXMLString());
