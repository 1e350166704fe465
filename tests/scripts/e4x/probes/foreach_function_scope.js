function count(xml) { var n = 0; for each (var i in xml.i) n++; return n; }
print(count(<r><i/><i/></r>));
