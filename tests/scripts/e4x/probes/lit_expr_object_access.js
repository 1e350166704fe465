var rec = {first: "Jo", last: "Doe", age: 33};
var x = <person first={rec.first} last={rec.last} age={rec.age}/>;
print(x.toXMLString());
