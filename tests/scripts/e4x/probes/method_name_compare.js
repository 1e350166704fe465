var x = <item/>;
print(x.name() == "item", x.name() == "other");
