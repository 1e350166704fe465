var s = "<a>not xml</a>";
var t = '<b/>';
print(s, t, s.length);
