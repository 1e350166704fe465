var x = <a><n>42</n></a>;
print(Number(x.n) + 1, parseInt(x.n) + 1, +x.n + 1);
