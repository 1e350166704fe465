var x = <a v={"}"}/>;
print(x.@v);
