var s = "a-b-c";
print(s.replace("-", "+"), s.length, s.split("-").length);
