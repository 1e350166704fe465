var x = <r v={ {k: 1}.k }/>;
print(x.@v);
