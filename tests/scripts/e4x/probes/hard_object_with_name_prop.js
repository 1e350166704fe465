var o = {name: "plain", text: "t", parent: "p"};
print(o.name, o.text, o.parent);
o.name = "changed";
print(o.name);
