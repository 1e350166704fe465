var id = 42;
var q = <queryDef schema="nms:recipient" operation="select">
  <select><node expr="@email"/><node expr="@lastName"/></select>
  <where><condition expr={"@id = " + id}/></where>
</queryDef>;
print(q.@schema, q.@operation, q.select.node.length(), q.where.condition.@expr);
print(q.toXMLString());
