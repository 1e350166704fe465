var x = <link>http://example.com/a//b</link>;
var y = <c>/* not a comment */ and // neither</c>;
print(x, y);
