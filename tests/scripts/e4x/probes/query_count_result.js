var res = new XML('<recipient count="4"/>');
print(res.@count, Number(res.@count) + 1, res.@count == 4);
