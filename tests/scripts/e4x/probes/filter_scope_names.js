var want = "2", cnt = 0;
var x = <r><p id="1"><age>30</age><n>A</n></p><p id="2"><age>40</age><n>B</n></p></r>;
print(x.p.(age > 35).n, x.p.(@id == want).n, x.p.(n == "A" ? true : false).@id);
print(x.p.({k: age}.k > 35).n, x.p.((function (v) { return v > 35; })(age)).n);
print(x.p.(cnt++ >= 0).length(), cnt);
print(x.p.(typeof age == "xml").length(), x.p.(String(n).toLowerCase() == "b").@id);
print(x.p.(n.length() == 1 && age.toString() == "30").@id);
