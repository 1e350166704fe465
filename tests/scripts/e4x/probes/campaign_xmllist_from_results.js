var a = new XML('<rs><r id="1"/></rs>'), b = new XML('<rs><r id="2"/></rs>');
var all = new XMLList();
all += a.r;
all += b.r;
print(all.length(), all.@id.toXMLString());
