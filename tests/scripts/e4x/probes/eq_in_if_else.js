var rec = <r status="active"/>;
if (rec.@status == "active") print("A");
else print("B");
