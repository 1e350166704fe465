var root = <records/>;
for (var i = 0; i < 3; i++) root.appendChild(<rec id={i}/>);
print(root.rec.length());
print(root.toXMLString());
