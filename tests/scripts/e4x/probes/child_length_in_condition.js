var x = <a><b/></a>;
if (x.b.length() > 0) print("has b");
if (x.c.length() == 0) print("no c");
