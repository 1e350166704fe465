var a = <r><v>1</v></r>, b = <r><v>2</v></r>;
print(a == b, a != b);
