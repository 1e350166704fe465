print(<a><b>1</b></a>.b.toString());
