var x = <a/>;
x.appendChild(<b>1</b>);
x.appendChild(<c/>);
print(x.toXMLString());
