var doc = <recipient email="a@x">
  <subscriptions>
    <subscription service="news"/>
    <subscription service="offers"/>
  </subscriptions>
</recipient>;
print(doc.subscriptions.subscription.length());
print(doc..subscription.@service.toXMLString());
print(doc.subscriptions.subscription.(@service == "offers").length());
