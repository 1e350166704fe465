var x = <doc><parent>P</parent><children>C</children></doc>;
print(x.parent, x.children);
print(x.children().length());
