var x = <a>hello</a>;
print(x == "hello", "hello" == x, x != "hello");
