var x = <a v=""/>;
print(x.@v == "", x.@v.length(), String(x.@v).length);
