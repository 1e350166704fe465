var q = <where><condition expr="@age > 18 AND @age &lt; 65"/><condition expr={"@score < " + 3}/></where>;
print(q.condition[0].@expr);
print(q.condition[1].@expr);
print(q.toXMLString());
