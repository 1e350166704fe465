function foo() {}
print(foo.name);
