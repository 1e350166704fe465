var res = new XML('<recipient email="a@x" id="7"><country isoCode="FR"/></recipient>');
print(res.@id, res.country.@isoCode, res.country.@isoCode == "FR");
