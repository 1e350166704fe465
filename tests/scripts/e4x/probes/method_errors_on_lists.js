var x = <a><b/><b/></a>;
try { print(x.nothere.name()); } catch (e) { print("err1", e.name); }
try { print(x.b.name()); } catch (e) { print("err2", e.name); }
try { x.b.appendChild(<c/>); print("ok3"); } catch (e) { print("err3", e.name); }
try { print(x.nothere.localName()); } catch (e) { print("err4", e.name); }
try { print(x.b.nodeKind()); } catch (e) { print("err5", e.name); }
try { print(x.nothere.toXMLString() === ""); } catch (e) { print("err6", e.name); }
try { print(x.b.childIndex()); } catch (e) { print("err7", e.name); }
