"""A staged schema with an attribute of every type, for the tests of how staged rows are written."""

EVERY_TYPE = """<srcSchema namespace="cus" name="every"><element name="every" autoStg="true">
  <attribute name="s" type="string" length="20"/><attribute name="m" type="memo"/><attribute name="u" type="uuid"/>
  <attribute name="b" type="boolean"/><attribute name="by" type="byte"/><attribute name="sh" type="short"/>
  <attribute name="l" type="long"/><attribute name="i" type="int"/><attribute name="big" type="int64"/>
  <attribute name="d" type="double"/><attribute name="f" type="float"/><attribute name="day" type="date"/>
  <attribute name="ts" type="datetime"/><attribute name="tz" type="datetimetz"/>
  <attribute name="naive" type="datetimenotz"/><attribute name="tm" type="time"/>
</element></srcSchema>"""
