var x = <r>{(function () { return "f"; })()}</r>;
print(x);
