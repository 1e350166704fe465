var x = <a><class>c</class><default>d</default></a>;
print(x["class"], x["default"]);
