var x = <r><p id="1"><n>A</n></p><p id="2"><n>B</n></p></r>;
print(x.p.(@id == "2" || n == "A").length());
