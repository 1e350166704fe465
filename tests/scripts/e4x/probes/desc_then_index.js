var x = <r><g><i>a</i></g><i>b</i></r>;
print(x..i[0], x..i[1]);
