var x = <r><p><n>A</n></p><p><n>B</n></p></r>;
print(x.p.(n == "B").n);
