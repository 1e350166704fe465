print(<r><a v="1"/><a v="2"/></r>.a.(@v == "1").length());
