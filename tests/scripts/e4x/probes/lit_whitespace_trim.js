var x = <a>
   text with spaces
</a>;
print("[" + x.toString() + "]");
