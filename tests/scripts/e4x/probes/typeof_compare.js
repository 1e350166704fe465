var x = <a/>;
print(typeof x == "xml", typeof x === "xml", typeof 1 == "number");
