var x = <a>{"{ not a brace }"}</a>;
print(x);
