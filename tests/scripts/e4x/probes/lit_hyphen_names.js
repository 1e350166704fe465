var x = <offer-list><offer-item offer-id="7">A</offer-item></offer-list>;
print(x.toXMLString());
print(x["offer-item"].@["offer-id"]);
