var t = "item";
var x = <list><{t}>1</{t}><{t}>2</{t}></list>;
print(x.toXMLString());
print(x.item.length());
