var v = <r><a>t</a></r>;
print(v.a.text()[0].parent().name(), v.a.text().toXMLString());
print(<r/>.@*.length(), <r/>.*.length(), <r a="1"/>.attribute("*").length());
