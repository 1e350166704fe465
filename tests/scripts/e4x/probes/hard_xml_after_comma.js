var pair = [1, <b/>];
print(pair[1].name());
