var x = <p>Hello <b>big</b> world</p>;
print(x.toXMLString());
print(x.children().length());
print(x.text().length());
