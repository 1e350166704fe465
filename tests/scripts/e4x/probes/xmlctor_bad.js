try { new XML("<a><b></a>"); print("no error"); } catch (e) { print("error", e.name); }
