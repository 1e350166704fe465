var x = <a id="0"><b id="1"><c id="2"/></b></a>;
print(x..@id.length());
