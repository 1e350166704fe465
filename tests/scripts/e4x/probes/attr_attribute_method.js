var x = <a id="5"/>;
print(x.attribute("id"), x.attribute("nope").length());
