// E4X runtime for translated workflow scripts: XML / XMLList objects over Proxy, plus the __e4x_* helpers the
// translation calls. Plain ES2020, no Intl, no host object: it runs in any engine before the script.
(function (g) {
  "use strict";

  const IMPL = Symbol("e4x.impl");
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

  const NAME_RE = /[^\s=\/>"'<]+/y;
  const WS_RE = /\s*/y;

  function xmlError(msg) { return new SyntaxError("XML: " + msg); }

  // Parses XML text into a list of top-level nodes (the content of an implicit parent element).
  function parseFragment(text) {
    const root = node("element", "#root");
    let i = 0;
    const n = text.length;
    let cur = root;
    function skipWs() { WS_RE.lastIndex = i; WS_RE.exec(text); i = WS_RE.lastIndex; }
    function readName() {
      NAME_RE.lastIndex = i;
      const m = NAME_RE.exec(text);
      if (!m) throw xmlError("name expected at offset " + i);
      i = NAME_RE.lastIndex;
      return m[0];
    }
    function addText(s, cdata) {
      if (!cdata) {
        s = s.trim(); // ignoreWhitespace, as Rhino: text is trimmed and whitespace-only text dropped
        if (s === "") return;
        s = decode(s);
      }
      const t = node("text", null, s);
      t.cdata = cdata;
      t.parent = cur;
      cur.kids.push(t);
    }
    while (i < n) {
      const lt = text.indexOf("<", i);
      if (lt < 0) { addText(text.slice(i), false); break; }
      if (lt > i) addText(text.slice(i, lt), false);
      i = lt;
      if (text.startsWith("<!--", i)) {
        const end = text.indexOf("-->", i + 4);
        if (end < 0) throw xmlError("unterminated comment");
        const c = node("comment", null, text.slice(i + 4, end));
        c.parent = cur; cur.kids.push(c);
        i = end + 3;
      } else if (text.startsWith("<![CDATA[", i)) {
        const end = text.indexOf("]]>", i + 9);
        if (end < 0) throw xmlError("unterminated CDATA section");
        addText(text.slice(i + 9, end), true);
        i = end + 3;
      } else if (text.startsWith("<?", i)) {
        const end = text.indexOf("?>", i + 2);
        if (end < 0) throw xmlError("unterminated processing instruction");
        i = end + 2; // ignoreProcessingInstructions, as Rhino and SpiderMonkey by default
      } else if (text.startsWith("<!", i)) {
        throw xmlError("DTD and declarations are not supported");
      } else if (text[i + 1] === "/") {
        i += 2;
        const name = readName();
        if (cur === root || name !== cur.name) throw xmlError("closing tag </" + name + "> does not match");
        skipWs();
        if (text[i] !== ">") throw xmlError("'>' expected after </" + name);
        i++;
        cur = cur.parent;
      } else {
        i++;
        const el = node("element", readName());
        el.parent = cur;
        cur.kids.push(el);
        for (;;) {
          skipWs();
          const ch = text[i];
          if (ch === ">") { i++; cur = el; break; }
          if (ch === "/" && text[i + 1] === ">") { i += 2; break; }
          if (i >= n) throw xmlError("unterminated tag <" + el.name);
          const an = readName();
          skipWs();
          if (text[i] !== "=") throw xmlError("'=' expected after attribute " + an);
          i++;
          skipWs();
          const q = text[i];
          if (q !== "\"" && q !== "'") throw xmlError("quoted value expected for attribute " + an);
          const end = text.indexOf(q, i + 1);
          if (end < 0) throw xmlError("unterminated value of attribute " + an);
          for (const a of el.attrs) if (a.name === an) throw xmlError("attribute " + an + " given twice");
          const a = node("attribute", an, decode(text.slice(i + 1, end)));
          a.parent = el;
          el.attrs.push(a);
          i = end + 1;
        }
      }
    }
    if (cur !== root) throw xmlError("element <" + cur.name + "> is not closed");
    for (const k of root.kids) k.parent = null;
    return root.kids;
  }

  // ---- serialisation (E4X ToXMLString, prettyPrinting with an indent of 2, as Rhino) --------------------------
  function escContent(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function escAttr(s) {
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
    let s = pad + "<" + n.name;
    for (const a of n.attrs) s += " " + a.name + "=\"" + escAttr(a.value) + "\"";
    if (n.kids.length === 0) return s + "/>";
    s += ">";
    const indentKids = pretty && (n.kids.length > 1 || n.kids[0].kind !== "text");
    for (const k of n.kids) s += indentKids ? "\n" + toXMLString(k, indent + 2, true) : toXMLString(k, 0, false);
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

  function nameMatches(n, name) { return name === "*" || n.name === name; }

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
        if (!attr && (name === "*" ? true : (k.kind === "element" && k.name === name))) out.push(k);
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
      // Used by `with` in filter predicates: an item's children and methods are in scope.
      if (typeof k !== "string") return false;
      if (Object.prototype.hasOwnProperty.call(METHODS, k)) return true;
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

  function QName(n) { this.localName = n.name.indexOf(":") >= 0 ? n.name.slice(n.name.indexOf(":") + 1) : n.name; this.uri = ""; this.qualified = n.name; }
  QName.prototype.toString = function () { return this.qualified; };

  function self(v) { const i = implOf(v); if (!i) throw new TypeError("E4X: not an XML value"); return i; }

  const METHODS = Object.create(null);
  Object.assign(METHODS, {
    length: function () { return self(this).nodes.length; },
    toXMLString: function () { return implXMLString(self(this)); },
    toString: function () { return implString(self(this)); },
    valueOf: function () { return this; },
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
    if (other === null || other === undefined) return false;
    if (x.nodes.length !== 1) {
      if (x.nodes.length === 0) return false;
      return implString(x) == other; // eslint-disable-line eqeqeq
    }
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
  // "n" (a name), "a" (an unquoted attribute value) or "c" (element content).
  function literal(parts) {
    let text = "";
    let isList = false;
    const inserted = [];
    for (const p of parts) {
      if (typeof p === "string") { text += p; continue; }
      const kind = p[0], v = p[1];
      if (kind === "n") text += String(v);
      else if (kind === "a") text += "\"" + escAttr(isXML(v) ? implString(implOf(v)) : String(v)) + "\"";
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
    const sym = Symbol("e4x.child." + name);
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
  define("__e4x_toXMLString", function (v) { const i = implOf(v); return i ? implXMLString(i) : String(v); });
  define("__e4x_fromXMLString", function (text) { return XMLClass(String(text)); });
  define("__e4x_literal", literal);
  define("__e4x_eq", eq);
  define("__e4x_add", add);
  define("__e4x_typeof", typeOf);
  define("__e4x_each", each);
  define("__e4x_key", childKey);
})(globalThis);
