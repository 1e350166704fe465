var x = <a id="7"/>;
print(x.@nope.length());
print("[" + x.@nope + "]");
print(x.@nope.toXMLString() === "");
