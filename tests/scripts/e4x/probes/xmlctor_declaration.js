var x = new XML('<?xml version="1.0" encoding="UTF-8"?><a v="1"/>');
print(x.@v);
