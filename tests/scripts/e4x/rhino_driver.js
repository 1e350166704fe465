// Runs each probe file named on the command line in a fresh Rhino scope (one JVM for the whole suite) and
// writes what it printed: a header line per probe, then one record per print() call, escaped onto one line.
var SEP = "\u0001";
var cx = Packages.org.mozilla.javascript.Context.getCurrentContext();
// UTF-8 whatever the locale (without LANG, Java 17 would write "?" for every non-ASCII character).
var out = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, "UTF-8");
function escape(s) { return String(s).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r"); }
for (var i = 0; i < arguments.length; i++) {
  var path = arguments[i];
  var records = [];
  var scope = cx.initStandardObjects();
  scope.print = (function () {
    var parts = [];
    for (var k = 0; k < arguments.length; k++) parts.push(String(arguments[k]));
    records.push(parts.join(" "));
  });
  var error = null;
  try {
    cx.evaluateString(scope, readFile(path, "UTF-8"), path, 1, null);
  } catch (e) {
    error = (e.javaException ? String(e.javaException) : String(e));
  }
  out.println(SEP + "PROBE " + path);
  for (var r = 0; r < records.length; r++) out.println(escape(records[r]));
  if (error !== null) out.println(SEP + "ERROR " + escape(error));
}
out.flush();
