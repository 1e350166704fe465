var a = <r x="1" y="2"/>, b = <r y="2" x="1"/>;
print(a == b);
