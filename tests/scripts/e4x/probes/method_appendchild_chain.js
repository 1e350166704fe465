var x = <a/>;
x.appendChild(<b/>).appendChild(<c/>);
print(x.toXMLString());
