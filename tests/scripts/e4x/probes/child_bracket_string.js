var x = <a><b-c>1</b-c></a>;
print(x["b-c"]);
