var x = <a ok="yes"/>;
if (x.@ok == "yes") print("ok"); else print("no");
if (x.@missing == "yes") print("bad"); else print("missing");
