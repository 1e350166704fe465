var a = <a id="1"/>, b = <b id="1"/>, c = <c id="2"/>;
print(a.@id == b.@id, a.@id == c.@id, a.@id != c.@id);
