for each (var v in [10, 20, 30]) print(v);
