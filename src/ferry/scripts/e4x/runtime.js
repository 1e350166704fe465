// E4X runtime for translated workflow scripts: XML / XMLList objects over Proxy, plus the __e4x_* helpers the
// translation calls. Plain ES2020, no Intl, no host object: it runs in any engine before the script.
(function (g) {
  "use strict";

  const IMPL = Symbol("e4x.impl");
  // `x.appendChild(<literal>)` is translated to `x[APPEND](shape, parts)`: an XML x takes the literal's nodes as
  // they are built (no XML object for the literal, no copy of it); any other value gets its own appendChild call.
  const APPEND = Symbol("appendChild");
  const childKeys = new Map(); // symbol -> child name (non-call access of method-like names, see translator)

  // ---- nodes -------------------------------------------------------------------------------------------------
  // kind: "element" | "text" | "comment" | "processing-instruction" | "attribute"
  function node(kind, name, value) {
    return { kind: kind, name: name, value: value, attrs: kind === "element" ? [] : null,
             kids: kind === "element" ? [] : null, parent: null, cdata: false };
  }

  function deepCopy(n, parent) {
    const c = node(n.kind, n.name, n.value);
    c.cdata = n.cdata;
    c.parent = parent || null;
    if (n.kind === "element") {
      for (const a of n.attrs) { const ac = node("attribute", a.name, a.value); ac.parent = c; c.attrs.push(ac); }
      for (const k of n.kids) c.kids.push(deepCopy(k, c));
    }
    return c;
  }

  // ---- parsing -----------------------------------------------------------------------------------------------
  const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" };

  function decode(s) {
    if (s.indexOf("&") < 0) return s;
    return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, function (m, e) {
      if (e[0] === "#") return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
      if (Object.prototype.hasOwnProperty.call(ENTITIES, e)) return ENTITIES[e];
      throw new SyntaxError("XML: unknown entity &" + e + ";");
    });
  }

  // One sticky regex step per node: comment, CDATA, processing instruction or declaration, DTD, closing tag,
  // opening tag (with its attributes as one string), or text.
  const STEP_RE = /<!--([\s\S]*?)-->|<!\[CDATA\[([\s\S]*?)\]\]>|<\?[\s\S]*?\?>|(<!)|<\/([^\s>]+)\s*>|<([^\s\/>"'<=]+)((?:\s+[^\s=\/>"'<]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/y;
  const ATTR_RE = /([^\s=\/>"'<]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

  function xmlError(msg) { return new SyntaxError("XML: " + msg); }

  // Parses XML text into a list of top-level nodes (the content of an implicit parent element).
  function parseFragment(text) {
    const root = node("element", "#root");
    let cur = root;
    const n = text.length;
    STEP_RE.lastIndex = 0;
    while (STEP_RE.lastIndex < n) {
      const at = STEP_RE.lastIndex;
      const m = STEP_RE.exec(text);
      if (m === null) throw xmlError("malformed markup at offset " + at + ": " + text.slice(at, at + 30));
      let k;
      if (m[8] !== undefined) { // text: ignoreWhitespace, as Rhino: trimmed, whitespace-only text dropped
        const t = m[8].trim();
        if (t === "") continue;
        k = node("text", null, t.indexOf("&") < 0 ? t : decode(t));
      } else if (m[5] !== undefined) { // opening tag
        const el = node("element", m[5]);
        if (m[6]) {
          ATTR_RE.lastIndex = 0;
          let a;
          while ((a = ATTR_RE.exec(m[6])) !== null) {
            const raw = a[2] !== undefined ? a[2] : a[3];
            for (const other of el.attrs) if (other.name === a[1]) throw xmlError("attribute " + a[1] + " given twice");
            const attr = node("attribute", a[1], raw.indexOf("&") < 0 ? raw : decode(raw));
            if (a[1].startsWith("xmlns")) namespacesSeen = true;
            attr.parent = el;
            el.attrs.push(attr);
          }
        }
        el.parent = cur;
        cur.kids.push(el);
        if (m[7] !== "/") cur = el;
        continue;
      } else if (m[4] !== undefined) { // closing tag
        if (cur === root || m[4] !== cur.name) throw xmlError("closing tag </" + m[4] + "> does not match");
        cur = cur.parent;
        continue;
      } else if (m[1] !== undefined) {
        k = node("comment", null, m[1]);
      } else if (m[2] !== undefined) {
        k = node("text", null, m[2]);
        k.cdata = true;
      } else if (m[3] !== undefined) {
        throw xmlError("DTD and declarations are not supported");
      } else {
        continue; // ignoreProcessingInstructions, as Rhino and SpiderMonkey by default
      }
      k.parent = cur;
      cur.kids.push(k);
    }
    if (cur !== root) throw xmlError("element <" + cur.name + "> is not closed");
    for (const k of root.kids) k.parent = null;
    return root.kids;
  }

  // ---- serialisation (E4X ToXMLString, prettyPrinting with an indent of 2, as Rhino) --------------------------
  const CONTENT_SPECIAL = /[&<>]/;
  const ATTR_SPECIAL = /[&"<\n\r\t]/;
  function escContent(s) {
    if (!CONTENT_SPECIAL.test(s)) return s;
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function escAttr(s) {
    if (!ATTR_SPECIAL.test(s)) return s;
    return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;")
      .replace(/\n/g, "&#xA;").replace(/\r/g, "&#xD;").replace(/\t/g, "&#x9;");
  }

  function toXMLString(n, indent, pretty) {
    const pad = pretty ? " ".repeat(indent) : "";
    switch (n.kind) {
      case "text":
        if (n.cdata) return pad + "<![CDATA[" + n.value + "]]>";
        return pad + escContent(pretty ? n.value.trim() : n.value);
      case "attribute": return pad + escAttr(n.value);
      case "comment": return pad + "<!--" + n.value + "-->";
      case "processing-instruction": return pad + "<?" + n.name + " " + n.value + "?>";
    }
    const start = flatStart(n), kids = n.kids;
    let s = pad;
    if (start !== null) s += start;
    else {
      const attrs = n.attrs;
      s += "<" + n.name;
      for (let k = 0; k < attrs.length; k++) s += " " + attrs[k].name + "=\"" + escAttr(attrs[k].value) + "\"";
    }
    if (kids.length === 0) return s + "/>";
    s += ">";
    const indentKids = pretty && (kids.length > 1 || kids[0].kind !== "text");
    for (let k = 0; k < kids.length; k++) {
      s += indentKids ? "\n" + toXMLString(kids[k], indent + 2, true) : toXMLString(kids[k], 0, false);
    }
    if (indentKids) s += "\n" + pad;
    return s + "</" + n.name + ">";
  }

  function hasSimpleContent(n) {
    if (n.kind === "comment" || n.kind === "processing-instruction") return false;
    if (n.kind !== "element") return true;
    for (const k of n.kids) if (k.kind === "element") return false;
    return true;
  }

  function nodeString(n) {
    if (n.kind === "attribute" || n.kind === "text") return n.value;
    if (hasSimpleContent(n)) {
      let s = "";
      for (const k of n.kids) if (k.kind === "text") s += k.value;
      return s;
    }
    return toXMLString(n, 0, XMLClass.prettyPrinting);
  }

  // ---- XML and XMLList objects -------------------------------------------------------------------------------
  // An impl holds the nodes; `single` marks an XML (one node) rather than an XMLList; `target` is where a list
  // read from a parent lives (for `x.child += <y/>` and assignment through a list).
  function Impl(nodes, single, targetNode, targetName) {
    this.nodes = nodes;
    this.single = single;
    this.targetNode = targetNode || null;
    this.targetName = targetName === undefined ? null : targetName;
  }

  function wrap(impl) { return new Proxy(impl, handler); }
  function xmlOf(n) { return wrap(new Impl([n], true)); }
  function listOf(nodes, targetNode, targetName) { return wrap(new Impl(nodes, false, targetNode, targetName)); }
  function implOf(v) {
    if (v !== null && typeof v === "object") { const i = v[IMPL]; if (i instanceof Impl) return i; }
    return null;
  }
  function isXML(v) { return implOf(v) !== null; }

  function isIndex(k) { return typeof k === "string" && /^(0|[1-9][0-9]*)$/.test(k); }

  // Set once any XML holds a namespace declaration: until then names match as written (the fast path).
  let namespacesSeen = false;

  // E4X: `x.b` is the children whose local name is b in no namespace (the default `default xml namespace`), so
  // <b> inside <a xmlns="u"> is not one of them. A name given with its prefix (`x["p:b"]`) matches as written.
  function nameMatches(n, name) {
    if (name === "*") return true;
    if (!namespacesSeen || name.indexOf(":") >= 0) return n.name === name;
    const colon = n.name.indexOf(":");
    if (colon >= 0) return false; // a prefixed name is in its prefix's namespace
    return n.name === name && (n.kind !== "element" || namespaceURI(n, "") === "");
  }

  function childrenNamed(nodes, name) {
    const out = [];
    for (const n of nodes) {
      if (n.kind !== "element") continue;
      for (const k of n.kids) if (k.kind === "element" && nameMatches(k, name)) out.push(k);
    }
    return out;
  }
  function allChildren(nodes) {
    const out = [];
    for (const n of nodes) if (n.kind === "element") for (const k of n.kids) out.push(k);
    return out;
  }
  function attributesNamed(nodes, name) {
    const out = [];
    for (const n of nodes) if (n.kind === "element") for (const a of n.attrs) if (nameMatches(a, name)) out.push(a);
    return out;
  }
  function descendants(nodes, name, attr) {
    const out = [];
    function walk(n) {
      if (n.kind !== "element") return;
      if (attr) for (const a of n.attrs) if (nameMatches(a, name)) out.push(a);
      for (const k of n.kids) {
        if (!attr && (name === "*" || (k.kind === "element" && nameMatches(k, name)))) out.push(k);
        walk(k);
      }
    }
    for (const n of nodes) walk(n);
    return out;
  }

  // Nodes a value stands for when it is put into a tree: XML values as (copied) nodes, others as one text node.
  function toNodes(v) {
    const i = implOf(v);
    if (i) return i.nodes.map(function (n) {
      if (n.kind === "attribute") return node("text", null, n.value);
      return deepCopy(n, null);
    });
    return [node("text", null, String(v))];
  }

  function single(impl, what) {
    if (impl.nodes.length !== 1) throw new TypeError("E4X: " + what + " needs a single XML value, not a list of " + impl.nodes.length);
    return impl.nodes[0];
  }

  // The element a list read from a parent writes into (created on demand for `x.newChild.@a = 1`-like writes).
  function resolveTarget(impl) {
    if (impl.nodes.length === 1) return impl.nodes[0];
    if (impl.nodes.length === 0 && impl.targetNode && impl.targetName && impl.targetName !== "*") {
      const el = node("element", impl.targetName);
      el.parent = impl.targetNode;
      impl.targetNode.kids.push(el);
      impl.nodes.push(el);
      return el;
    }
    return null;
  }

  function setAttribute(impl, name, v) {
    const el = resolveTarget(impl);
    if (!el || el.kind !== "element") throw new TypeError("E4X: cannot set attribute @" + name + " on this value");
    const iv = implOf(v);
    const value = iv ? iv.nodes.map(nodeString).join(" ") : String(v);
    if (name === "*") { for (const a of el.attrs) a.value = value; return; }
    for (const a of el.attrs) if (a.name === name) { a.value = value; return; }
    const a = node("attribute", name, value);
    a.parent = el;
    el.attrs.push(a);
    if (name.startsWith("xmlns")) namespacesSeen = true;
  }

  function putChild(impl, name, v) {
    const el = resolveTarget(impl);
    if (!el || el.kind !== "element") throw new TypeError("E4X: cannot set child " + name + " on this value");
    let first = -1;
    const kept = [];
    el.kids.forEach(function (k, idx) {
      if (k.kind === "element" && nameMatches(k, name)) { if (first < 0) { first = kept.length; kept.push(null); } }
      else kept.push(k);
    });
    let newNodes;
    const iv = implOf(v);
    if (iv && !(iv.nodes.length === 1 && iv.nodes[0].kind !== "element")) {
      newNodes = toNodes(v);
    } else {
      // A string (or simple value) replaces the content of the named child, creating it when absent.
      const old = first >= 0 ? el.kids.find(function (k) { return k.kind === "element" && nameMatches(k, name); }) : null;
      const c = old && name !== "*" ? old : node("element", name === "*" ? "*" : name);
      c.kids = [];
      const s = iv ? nodeString(iv.nodes[0]) : String(v);
      if (s !== "") { const t = node("text", null, s); t.parent = c; c.kids.push(t); }
      newNodes = [c];
    }
    for (const k of newNodes) k.parent = el;
    if (first < 0) { el.kids = kept.concat(newNodes); return; }
    kept.splice.apply(kept, [first, 1].concat(newNodes));
    el.kids = kept;
  }

  function replaceItem(impl, index, v) {
    if (index < impl.nodes.length) {
      const old = impl.nodes[index];
      if (old.kind === "element" && !isXML(v)) {
        // E4X: a value that is not XML replaces the element's content, the element stays.
        const t = node("text", null, String(v));
        t.parent = old;
        old.kids = String(v) === "" ? [] : [t];
        return;
      }
      const p = old.parent;
      const repl = toNodes(v);
      if (p) {
        const at = p.kids.indexOf(old);
        for (const r of repl) r.parent = p;
        if (at >= 0) p.kids.splice.apply(p.kids, [at, 1].concat(repl));
      }
      impl.nodes.splice.apply(impl.nodes, [index, 1].concat(repl));
      return;
    }
    const added = toNodes(v);
    if (impl.targetNode) {
      for (const r of added) { r.parent = impl.targetNode; impl.targetNode.kids.push(r); }
    }
    for (const r of added) impl.nodes.push(r);
  }

  function removeNode(n) {
    const p = n.parent;
    if (!p) return;
    const arr = n.kind === "attribute" ? p.attrs : p.kids;
    const at = arr.indexOf(n);
    if (at >= 0) arr.splice(at, 1);
    n.parent = null;
  }

  function getProperty(impl, key) {
    if (isIndex(key)) {
      const n = impl.nodes[Number(key)];
      return n === undefined ? undefined : xmlOf(n);
    }
    if (key[0] === "@") return listOf(attributesNamed(impl.nodes, key.slice(1)), null, null);
    if (key.startsWith("..")) {
      const rest = key.slice(2);
      if (rest[0] === "@") return listOf(descendants(impl.nodes, rest.slice(1), true));
      return listOf(descendants(impl.nodes, rest, false));
    }
    if (key === "*") return listOf(allChildren(impl.nodes), impl.nodes.length === 1 ? impl.nodes[0] : null, "*");
    return listOf(childrenNamed(impl.nodes, key), impl.nodes.length === 1 ? impl.nodes[0] : null, key);
  }

  const handler = {
    get: function (t, k) {
      if (typeof k === "symbol") {
        if (k === IMPL) return t;
        if (k === APPEND) return function (shape, parts) { appendLiteral(t, shape, parts); return this; };
        if (k === Symbol.toPrimitive) return function () { return implString(t); };
        if (k === Symbol.iterator) return function () { return t.nodes.map(xmlOf)[Symbol.iterator](); };
        if (k === Symbol.toStringTag) return t.single ? "XML" : "XMLList";
        const name = childKeys.get(k);
        return name === undefined ? undefined : getProperty(t, name);
      }
      if (Object.prototype.hasOwnProperty.call(METHODS, k)) return METHODS[k];
      return getProperty(t, k);
    },
    set: function (t, k, v) {
      if (typeof k === "symbol") {
        const name = childKeys.get(k);
        if (name === undefined) return false;
        k = name;
      }
      if (isIndex(k)) { replaceItem(t, Number(k), v); return true; }
      if (k[0] === "@") { setAttribute(t, k.slice(1), v); return true; }
      putChild(t, k, v);
      return true;
    },
    deleteProperty: function (t, k) {
      if (typeof k === "symbol") {
        const name = childKeys.get(k);
        if (name === undefined) return true;
        k = name;
      }
      if (isIndex(k)) {
        const n = t.nodes[Number(k)];
        if (n) { removeNode(n); t.nodes.splice(Number(k), 1); }
        return true;
      }
      const victims = k[0] === "@" ? attributesNamed(t.nodes, k.slice(1)) : childrenNamed(t.nodes, k);
      for (const n of victims) removeNode(n);
      return true;
    },
    has: function (t, k) {
      // `"b" in x`: whether x has children named b (or an item at that index); methods do not count.
      if (typeof k !== "string") return false;
      if (isIndex(k)) return Number(k) < t.nodes.length;
      return childrenNamed(t.nodes, k).length > 0;
    },
    ownKeys: function (t) { return t.nodes.map(function (_, i) { return String(i); }); },
    getOwnPropertyDescriptor: function (t, k) {
      if (isIndex(k) && Number(k) < t.nodes.length) {
        return { value: xmlOf(t.nodes[Number(k)]), writable: true, enumerable: true, configurable: true };
      }
      return undefined;
    },
    getPrototypeOf: function (t) { return t.single ? XMLClass.prototype : XMLListClass.prototype; },
  };

  function implString(impl) {
    const ns = impl.nodes;
    if (ns.length === 1) return nodeString(ns[0]);
    let simple = true;
    for (const n of ns) if (n.kind === "element" && !hasSimpleContent(n)) simple = false;
    if (simple) {
      let hasElement = false;
      for (const n of ns) if (n.kind === "element") hasElement = true;
      if (!hasElement || ns.length === 0) return ns.map(nodeString).join("");
    }
    return implXMLString(impl);
  }
  function implXMLString(impl) {
    const pretty = XMLClass.prettyPrinting;
    return impl.nodes.map(function (n) { return toXMLString(n, 0, pretty); }).join("\n");
  }

  // The namespace URI a prefix ("" for none) stands for at node n, from the xmlns declarations in scope.
  function namespaceURI(n, prefix) {
    if (prefix === "xml") return "http://www.w3.org/XML/1998/namespace";
    if (prefix === "xmlns") return "http://www.w3.org/2000/xmlns/"; // a declaration, as Rhino lists it
    const wanted = prefix ? "xmlns:" + prefix : "xmlns";
    for (let el = n.kind === "element" ? n : n.parent; el; el = el.parent) {
      for (const a of el.attrs) if (a.name === wanted) return a.value;
    }
    return "";
  }

  // What name() answers: a QName, whose string is "uri::localName" in a namespace (as in E4X), else the name.
  function QName(n) {
    const colon = n.name.indexOf(":");
    const prefix = colon >= 0 ? n.name.slice(0, colon) : "";
    this.localName = colon >= 0 ? n.name.slice(colon + 1) : n.name;
    // An attribute without a prefix is in no namespace; an element without one is in the default namespace.
    this.uri = prefix === "" && n.kind !== "element" ? "" : namespaceURI(n, prefix);
  }
  QName.prototype.toString = function () { return this.uri ? this.uri + "::" + this.localName : this.localName; };

  function self(v) { const i = implOf(v); if (!i) throw new TypeError("E4X: not an XML value"); return i; }

  const METHODS = Object.create(null);
  Object.assign(METHODS, {
    length: function () { return self(this).nodes.length; },
    toXMLString: function () { return implXMLString(self(this)); },
    toString: function () { return implString(self(this)); },
    valueOf: function () { return this; },
    hasOwnProperty: function (name) {
      const i = self(this), k = String(name);
      if (isIndex(k)) return Number(k) < i.nodes.length;
      return (k[0] === "@" ? attributesNamed(i.nodes, k.slice(1)) : childrenNamed(i.nodes, k)).length > 0;
    },
    toJSON: function () { return implString(self(this)); }, // JSON.stringify(xml), as Rhino: the string value
    name: function () {
      const n = single(self(this), "name()");
      return n.kind === "element" || n.kind === "attribute" || n.kind === "processing-instruction" ? new QName(n) : null;
    },
    localName: function () {
      const q = METHODS.name.call(this);
      return q === null ? null : q.localName;
    },
    nodeKind: function () { return single(self(this), "nodeKind()").kind; },
    attributes: function () { return listOf(attributesNamed(self(this).nodes, "*")); },
    attribute: function (name) { return listOf(attributesNamed(self(this).nodes, String(name))); },
    children: function () { const i = self(this); return listOf(allChildren(i.nodes), i.nodes.length === 1 ? i.nodes[0] : null, "*"); },
    child: function (name) {
      const i = self(this);
      if (typeof name === "number") {
        const out = [];
        for (const n of i.nodes) if (n.kind === "element" && n.kids[name]) out.push(n.kids[name]);
        return listOf(out);
      }
      return getProperty(i, String(name));
    },
    elements: function (name) {
      const nm = name === undefined ? "*" : String(name);
      return listOf(childrenNamed(self(this).nodes, nm));
    },
    text: function () {
      const out = [];
      for (const n of self(this).nodes) if (n.kind === "element") for (const k of n.kids) if (k.kind === "text") out.push(k);
      return listOf(out);
    },
    comments: function () {
      const out = [];
      for (const n of self(this).nodes) if (n.kind === "element") for (const k of n.kids) if (k.kind === "comment") out.push(k);
      return listOf(out);
    },
    descendants: function (name) { return listOf(descendants(self(this).nodes, name === undefined ? "*" : String(name), false)); },
    parent: function () {
      const i = self(this);
      if (i.nodes.length === 0) return undefined;
      const p = i.nodes[0].parent;
      for (const n of i.nodes) if (n.parent !== p) return undefined;
      return p ? xmlOf(p) : null;
    },
    childIndex: function () {
      const n = single(self(this), "childIndex()");
      return n.parent && n.kind !== "attribute" ? n.parent.kids.indexOf(n) : -1;
    },
    copy: function () {
      const i = self(this);
      return wrap(new Impl(i.nodes.map(function (n) { return deepCopy(n, null); }), i.single));
    },
    hasSimpleContent: function () {
      const i = self(this);
      if (i.nodes.length === 1) return hasSimpleContent(i.nodes[0]);
      for (const n of i.nodes) if (n.kind === "element") return false;
      return true;
    },
    hasComplexContent: function () {
      const i = self(this);
      if (i.nodes.length === 1) return i.nodes[0].kind === "element" && !hasSimpleContent(i.nodes[0]);
      for (const n of i.nodes) if (n.kind === "element") return true;
      return false;
    },
    appendChild: function (v) {
      const el = single(self(this), "appendChild()");
      for (const k of toNodes(v)) { k.parent = el; el.kids.push(k); }
      return this;
    },
    prependChild: function (v) {
      const el = single(self(this), "prependChild()");
      const add = toNodes(v);
      for (const k of add) k.parent = el;
      el.kids = add.concat(el.kids);
      return this;
    },
    insertChildAfter: function (ref, v) { return insertChild(this, ref, v, 1); },
    insertChildBefore: function (ref, v) { return insertChild(this, ref, v, 0); },
    setChildren: function (v) {
      const el = single(self(this), "setChildren()");
      el.kids = [];
      for (const k of toNodes(v)) { k.parent = el; el.kids.push(k); }
      return this;
    },
    setName: function (name) { single(self(this), "setName()").name = String(name); },
    setLocalName: function (name) { single(self(this), "setLocalName()").name = String(name); },
    contains: function (v) {
      for (const n of self(this).nodes) if (eq(xmlOf(n), v)) return true;
      return false;
    },
    normalize: function () { return this; },
    __e4x_filter: function (pred) {
      const i = self(this);
      const out = [];
      for (const n of i.nodes) if (pred(xmlOf(n))) out.push(n);
      return listOf(out);
    },
  });

  function insertChild(x, ref, v, after) {
    const el = single(self(x), "insertChild");
    const add = toNodes(v);
    for (const k of add) k.parent = el;
    let at;
    if (ref === null || ref === undefined) at = after ? 0 : el.kids.length;
    else {
      const ri = implOf(ref);
      if (!ri || ri.nodes.length === 0) return undefined;
      at = el.kids.indexOf(ri.nodes[0]);
      if (at < 0) return undefined;
      at += after;
    }
    el.kids.splice.apply(el.kids, [at, 0].concat(add));
    return x;
  }

  // ---- constructors ------------------------------------------------------------------------------------------
  function parseOne(v) {
    const i = implOf(v);
    if (i) return i.nodes;
    if (v === null || v === undefined) return [node("text", null, "")];
    const nodes = parseFragment(String(v));
    if (nodes.length === 0) return [node("text", null, "")];
    return nodes;
  }

  function XMLClass(v) {
    const nodes = parseOne(v);
    if (nodes.length !== 1) throw new SyntaxError("XML: the text holds " + nodes.length + " top-level nodes, not one");
    if (new.target) return xmlOf(deepCopy(nodes[0], null));
    return implOf(v) ? v : xmlOf(nodes[0]);
  }
  XMLClass.prettyPrinting = true;
  XMLClass.ignoreWhitespace = true;
  XMLClass.ignoreComments = false;
  XMLClass.prettyIndent = 2;

  function XMLListClass(v) {
    if (v === undefined || v === null || v === "") return listOf([]);
    const i = implOf(v);
    if (i) return listOf(i.nodes.slice());
    return listOf(parseFragment(String(v)));
  }

  // ---- operators the translation routes here -----------------------------------------------------------------
  function nodeEquals(a, b) {
    if (a === b) return true;
    if (a.kind !== b.kind) {
      if ((a.kind === "text" || a.kind === "attribute") && hasSimpleContent(b)) return nodeString(a) === nodeString(b);
      if ((b.kind === "text" || b.kind === "attribute") && hasSimpleContent(a)) return nodeString(a) === nodeString(b);
      return false;
    }
    if (a.kind !== "element") return a.value === b.value && a.name === b.name;
    if (a.name !== b.name || a.attrs.length !== b.attrs.length || a.kids.length !== b.kids.length) return false;
    for (const x of a.attrs) {
      const y = b.attrs.find(function (z) { return z.name === x.name; });
      if (!y || y.value !== x.value) return false;
    }
    for (let k = 0; k < a.kids.length; k++) if (!nodeEquals(a.kids[k], b.kids[k])) return false;
    return true;
  }

  function eq(a, b) {
    const ia = implOf(a), ib = implOf(b);
    if (!ia && !ib) return a == b; // eslint-disable-line eqeqeq
    if (ia && ib) {
      if (ia.nodes.length !== ib.nodes.length) {
        return false;
      }
      for (let k = 0; k < ia.nodes.length; k++) if (!nodeEquals(ia.nodes[k], ib.nodes[k])) return false;
      return true;
    }
    const x = ia || ib, other = ia ? b : a;
    // ECMA-357 XMLList [[Equals]], as SpiderMonkey (Campaign's engine): an empty list equals undefined (not null),
    // so `x.@id == undefined` tests for an absent attribute. Rhino answers false.
    if (other === undefined) return x.nodes.length === 0;
    if (other === null) return false;
    if (x.nodes.length !== 1) return false;
    const n = x.nodes[0];
    if (typeof other === "object" || typeof other === "function") return false;
    if (hasSimpleContent(n)) return nodeString(n) == other; // eslint-disable-line eqeqeq
    return implString(x) == other; // eslint-disable-line eqeqeq
  }

  function add(a, b) {
    const ia = implOf(a), ib = implOf(b);
    if (ia && ib) return listOf(ia.nodes.concat(ib.nodes), ia.targetNode, ia.targetName);
    return a + b;
  }

  function typeOf(v) { return isXML(v) ? "xml" : typeof v; }

  function each(v) {
    const i = implOf(v);
    if (i) return i.nodes.map(xmlOf);
    if (v === null || v === undefined) return [];
    if (Array.isArray(v)) return v.slice();
    const out = [];
    for (const k in v) out.push(v[k]); // eslint-disable-line guard-for-in
    return out;
  }

  // Builds an XML literal: parts are static XML text; dynamic values come as [kind, value], where kind is
  // "n" (a name), "a" (an unquoted attribute value) or "c" (element content). `shape` names the literal's static
  // text: its parse (a skeleton with slots) is kept, so a literal evaluated again only fills the slots.
  const skeletons = new Map();
  function literal(shape, parts) {
    let sk = skeletons.get(shape);
    if (sk === undefined) {
      sk = skeleton(parts);
      skeletons.set(shape, sk);
    }
    if (sk === null) return parseLiteral(parts);
    const vals = slotValues(parts);
    if (sk.flat !== null) return xmlOf(flatNode(sk.flat, attrValues(sk.flat, vals), null));
    const nodes = [];
    for (let k = 0; k < sk.nodes.length; k++) instantiate(sk.nodes[k], vals, null, nodes);
    if (nodes.length === 1 && !sk.isList) return xmlOf(nodes[0]);
    return listOf(nodes);
  }

  function appendLiteral(impl, shape, parts) {
    const el = single(impl, "appendChild()");
    let sk = skeletons.get(shape);
    if (sk === undefined) {
      sk = skeleton(parts);
      skeletons.set(shape, sk);
    }
    if (sk === null) {
      for (const k of toNodes(parseLiteral(parts))) { k.parent = el; el.kids.push(k); }
      return;
    }
    const vals = slotValues(parts);
    if (sk.flat !== null) { el.kids.push(flatNode(sk.flat, attrValues(sk.flat, vals), el)); return; }
    for (let k = 0; k < sk.nodes.length; k++) instantiate(sk.nodes[k], vals, el, el.kids);
  }

  function slotValues(parts) {
    const vals = [];
    for (let k = 0; k < parts.length; k++) { const p = parts[k]; if (typeof p !== "string") vals.push(p[1]); }
    return vals;
  }

  const ATTR_SLOT = /^\u0001([0-9]+)$/;
  const SLOT_NAME = /^__e4x_slot_([0-9]+)$/;

  // The literal parsed with placeholders, or null where only a parse per evaluation gives E4X's answer
  // (computed names; a value next to text, which E4X joins into one text node).
  function skeleton(parts) {
    let text = "", slot = 0;
    for (const p of parts) {
      if (typeof p === "string") { text += p; continue; }
      if (p[0] === "n") return null;
      text += p[0] === "a" ? "\"\u0001" + (slot++) + "\"" : "<__e4x_slot_" + (slot++) + "/>";
    }
    let nodes;
    try { nodes = parseFragment(text); } catch (e) { return null; }
    let isList = false;
    if (nodes.length === 1 && nodes[0].kind === "element" && nodes[0].name === "__e4x_list") {
      nodes = nodes[0].kids;
      isList = true;
    }
    const mark = function (list) {
      for (let k = 0; k < list.length; k++) {
        const n = list[k];
        if (n.kind !== "element") continue;
        const m = SLOT_NAME.exec(n.name);
        if (m) {
          const prev = list[k - 1], next = list[k + 1];
          if ((prev && (prev.kind === "text" || prev.slot !== undefined)) || (next && (next.kind === "text" || SLOT_NAME.test(next.name || "")))) return false;
          n.slot = Number(m[1]);
          continue;
        }
        for (const a of n.attrs) { const am = ATTR_SLOT.exec(a.value); if (am) a.slot = Number(am[1]); }
        if (!mark(n.kids)) return false;
      }
      return true;
    };
    return mark(nodes) ? { nodes: nodes, isList: isList, flat: isList ? null : flatOf(nodes) } : null;
  }

  // A literal of one element holding attributes only (a record, as most scripts write them) makes an element whose
  // attribute nodes are made when first read (never, when it is only turned into text): it keeps the skeleton and
  // the attribute values, and its text is the skeleton's, cut around the values.
  function flatOf(nodes) {
    if (nodes.length !== 1) return null;
    const el = nodes[0];
    if (el.kind !== "element" || el.kids.length !== 0 || el.slot !== undefined) return null;
    // The start tag's text cut around each slot's value (static attributes written once, escaped as usual).
    const texts = [], slots = [];
    let text = "<" + el.name;
    for (let k = 0; k < el.attrs.length; k++) {
      const a = el.attrs[k];
      if (a.slot === undefined) { text += " " + a.name + "=\"" + escAttr(a.value) + "\""; continue; }
      texts.push(text + " " + a.name + "=\"");
      slots.push(a.slot);
      text = "\"";
    }
    texts.push(text);
    return { element: el, texts: texts, slots: slots };
  }

  function attrValues(flat, vals) {
    // As `instantiate` converts them, in the same order (a value's toString runs now, not when the nodes are made).
    const slots = flat.slots, out = new Array(vals.length);
    for (let k = 0; k < slots.length; k++) out[slots[k]] = attrValue(vals[slots[k]]);
    return out;
  }

  // Keys no script can name (nodes never reach a script, but Object.prototype is the script's to change).
  const FLAT = Symbol("flat"), VALUES = Symbol("values");
  function ownAttrs(n, attrs) {
    Object.defineProperty(n, "attrs", { value: attrs, writable: true, enumerable: true, configurable: true });
    return attrs;
  }
  const FLAT_ELEMENT = Object.create(Object.prototype, {
    attrs: {
      get: function () {
        const attrs = this[FLAT].element.attrs, values = this[VALUES], made = [];
        for (let k = 0; k < attrs.length; k++) {
          const a = attrs[k];
          made.push({ kind: "attribute", name: a.name, value: a.slot === undefined ? a.value : values[a.slot],
                      attrs: null, kids: null, parent: this, cdata: false });
        }
        return ownAttrs(this, made);
      },
      set: function (v) { ownAttrs(this, v); },
    },
  });

  function flatNode(flat, values, parent) {
    return { __proto__: FLAT_ELEMENT, kind: "element", name: flat.element.name, value: undefined, kids: [],
             parent: parent, cdata: false, [FLAT]: flat, [VALUES]: values };
  }

  // The start tag of a record element whose attribute nodes were never made (null: made, or renamed since).
  function flatStart(n) {
    const flat = n[FLAT];
    if (flat === undefined || Object.prototype.hasOwnProperty.call(n, "attrs") || n.name !== flat.element.name) {
      return null;
    }
    const texts = flat.texts, slots = flat.slots, values = n[VALUES];
    let s = texts[0];
    for (let k = 0; k < slots.length; k++) s += escAttr(values[slots[k]]) + texts[k + 1];
    return s;
  }

  function attrValue(v) { return typeof v === "string" ? v : isXML(v) ? implString(implOf(v)) : String(v); }

  function instantiate(s, vals, parent, out) {
    if (s.slot !== undefined) {
      const v = vals[s.slot];
      const i = implOf(v);
      if (i) {
        for (const src of i.nodes) {
          const c = src.kind === "attribute" ? node("text", null, src.value) : deepCopy(src, parent);
          c.parent = parent;
          out.push(c);
        }
      } else {
        const t = String(v).trim(); // as the parse of the text would (ignoreWhitespace)
        if (t !== "") { const c = node("text", null, t); c.parent = parent; out.push(c); }
      }
      return;
    }
    const c = node(s.kind, s.name, s.value);
    c.cdata = s.cdata;
    c.parent = parent;
    if (s.kind === "element") {
      // Indexed loops and attribute nodes made in place: this runs once per node of every literal evaluated.
      const attrs = s.attrs, made = c.attrs, kids = s.kids;
      for (let k = 0; k < attrs.length; k++) {
        const a = attrs[k];
        made.push({ kind: "attribute", name: a.name, value: a.slot === undefined ? a.value : attrValue(vals[a.slot]),
                    attrs: null, kids: null, parent: c, cdata: false });
      }
      for (let k = 0; k < kids.length; k++) instantiate(kids[k], vals, c, c.kids);
    }
    out.push(c);
  }

  function parseLiteral(parts) {
    let text = "";
    let isList = false;
    const inserted = [];
    for (const p of parts) {
      if (typeof p === "string") { text += p; continue; }
      const kind = p[0], v = p[1];
      if (kind === "n") text += String(v);
      else if (kind === "a") text += "\"" + escAttr(attrValue(v)) + "\"";
      else if (isXML(v)) {
        // XML values go in as nodes: a placeholder element, swapped for copies of the nodes after parsing.
        text += "<__e4x_slot_" + inserted.length + "/>";
        inserted.push(implOf(v).nodes);
      } else text += escContent(String(v));
    }
    let nodes = parseFragment(text);
    if (nodes.length === 1 && nodes[0].kind === "element" && nodes[0].name === "__e4x_list") {
      nodes = nodes[0].kids; // an XMLList literal <>…</>
      for (const k of nodes) k.parent = null;
      isList = true;
    }
    if (inserted.length) {
      const swap = function (list, parent) {
        const out = [];
        for (const n of list) {
          if (n.kind === "element" && n.name.startsWith("__e4x_slot_")) {
            for (const src of inserted[Number(n.name.slice(11))]) {
              const c = src.kind === "attribute" ? node("text", null, src.value) : deepCopy(src, parent);
              c.parent = parent;
              out.push(c);
            }
          } else {
            if (n.kind === "element") n.kids = swap(n.kids, n);
            out.push(n);
          }
        }
        return out;
      };
      const top = swap(nodes, null);
      nodes.length = 0;
      for (const n of top) nodes.push(n);
    }
    if (nodes.length === 1 && !isList) return xmlOf(nodes[0]);
    return listOf(nodes);
  }

  const keysByName = Object.create(null);
  function childKey(name) {
    const known = keysByName[name];
    if (known !== undefined) return known;
    // One symbol per method-like name: `x.name` (no call) is x[key]; an XML value answers its children, any other
    // value the ordinary property through the Object.prototype getter below.
    const sym = Symbol(name); // described by the bare name: an error on undefined.name reads as usual
    childKeys.set(sym, name);
    keysByName[name] = sym;
    Object.defineProperty(Object.prototype, sym, {
      get: function () { return this[name]; },
      set: function (v) { this[name] = v; },
      configurable: false,
      enumerable: false,
    });
    return sym;
  }

  const define = function (name, value) {
    Object.defineProperty(g, name, { value: value, writable: false, enumerable: false, configurable: false });
  };
  define("XML", XMLClass);
  define("XMLList", XMLListClass);
  define("__e4x_isXML", isXML);
  // For the host: compact XML text (no indentation, text kept as it is), what a SOAP client would send.
  define("__e4x_toXMLString", function (v) {
    const i = implOf(v);
    if (!i) return String(v);
    return i.nodes.map(function (n) { return toXMLString(n, 0, false); }).join("");
  });
  define("__e4x_fromXMLString", function (text) { return XMLClass(String(text)); });
  define("__e4x_literal", literal);
  define("__e4x_eq", eq);
  define("__e4x_add", add);
  define("__e4x_typeof", typeOf);
  define("__e4x_each", each);
  define("__e4x_key", childKey);
  define("__e4x_append", APPEND);
  Object.defineProperty(Object.prototype, APPEND, {
    get: function () {
      const target = this;
      return function (shape, parts) { return target.appendChild(literal(shape, parts)); };
    },
    configurable: false,
    enumerable: false,
  });
  // A name inside a .(…) filter: the item's children of that name, when it has some.
  define("__e4x_in", function (item, name) {
    const i = implOf(item);
    return i !== null && childrenNamed(i.nodes, name).length > 0;
  });
  define("__e4x_child", function (item, name) { return getProperty(implOf(item), name); });
})(globalThis);
