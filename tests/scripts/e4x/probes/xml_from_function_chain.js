function mk() { return <r><i id="1"/><i id="2"/></r>; }
print(mk().i.length(), mk().i[1].@id);
