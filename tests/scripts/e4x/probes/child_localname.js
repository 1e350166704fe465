var x = <root><item/></root>;
print(x.item.localName(), x.localName());
