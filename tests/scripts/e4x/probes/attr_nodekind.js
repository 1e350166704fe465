var x = <a id="1"/>;
print(x.@id.nodeKind(), x.nodeKind());
