function n() { return 1; }
print(n() < 2, n()<2);
