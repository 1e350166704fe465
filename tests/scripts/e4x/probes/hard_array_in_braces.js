var x = <r v={[1, 2, 3].join("-")}/>;
print(x.@v);
