try { null.x; } catch (e) { print(e instanceof TypeError); }
