var x = <rec id="1"/>;
print(x.@id.parent().name());
