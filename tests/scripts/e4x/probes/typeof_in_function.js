function kind(v) { return typeof v; }
print(kind(<a/>), kind("s"), kind(1));
