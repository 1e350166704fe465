var r = <row amount="10.5" qty="3"/>;
print(r.@amount * r.@qty, Math.round(r.@amount), r.@qty > 2);
