print(typeof notDeclaredAnywhere);
