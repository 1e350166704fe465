var x = <a flag={false}>{true}</a>;
print(x.toXMLString());
