var o = {doc: <d k="v"/>};
print(o.doc.@k);
