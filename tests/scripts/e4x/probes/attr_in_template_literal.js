var x = <a v="7"/>;
print(`value=${x.@v}`);
