function up(s) { return s.toUpperCase(); }
var x = <a v={up("abc")}>{up("def")}</a>;
print(x.toXMLString());
