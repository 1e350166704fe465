// ferry's JSAPI as a script sees it: Campaign's names, each relayed to ferry's own code in the parent process.
// `__ferry_host(kind, json)` (Python, in the worker) answers `{"ok": value}` or `{"error": {code, text}}`; it never
// throws into the engine, and this shim turns an error envelope into a thrown JS Error carrying the FRY code.
(function (global) {
  "use strict";
  var host = global.__ferry_host;
  delete global.__ferry_host;

  function request(kind, args) {
    var reply = JSON.parse(host(kind, JSON.stringify(args === undefined ? null : args)));
    if (reply.error) {
      var error = new Error(reply.error.text);
      error.code = reply.error.code;
      throw error;
    }
    return reply.ok;
  }

  // Ends the run at once with FRY-130004 naming `what`: the worker stops, so no `catch` can swallow it.
  function refuse(what) {
    host("fatal", JSON.stringify({what: what, stack: new Error().stack}));
    throw new Error("unreachable");
  }

  function badArgument(message) {
    var error = new Error("FRY-130008 " + message);
    error.code = "FRY-130008";
    throw error;
  }

  function isXML(value) {
    return typeof __e4x_isXML === "function" && __e4x_isXML(value);
  }

  // A document argument: E4X XML, an XML string, or a JXON object.
  function documentOf(value, what) {
    if (isXML(value)) return {xml: __e4x_toXMLString(value)};
    if (typeof value === "string") return {xml: value};
    if (value !== null && typeof value === "object") return {json: value};
    return badArgument(what + " needs an XML document (E4X or text) or a JXON object, not " +
                       (value === null ? "null" : typeof value));
  }

  function text(args) {
    return Array.prototype.map.call(args, function (a) { return String(a); }).join(" ");
  }

  // An object whose unknown members end the run naming them (Campaign has them; ferry does not offer them).
  function guard(target, path) {
    return new Proxy(target, {
      get: function (t, key, receiver) {
        if (typeof key !== "string" || key in t) return Reflect.get(t, key, receiver);
        if (key === "toJSON" || key === "then") return undefined;
        return refuse(path + "." + key);
      },
    });
  }

  function aliases(methods) {
    Object.keys(methods).forEach(function (name) {
      methods[name.charAt(0).toLowerCase() + name.slice(1)] = methods[name];
    });
    return methods;
  }

  var session = aliases({
    Ingest: function (doc) { return request("call", {op: "ingest", method: "Ingest", doc: documentOf(doc, "Ingest")}); },
    IngestExt: function (doc) {
      request("call", {op: "ingest", method: "IngestExt", doc: documentOf(doc, "IngestExt")});
    },
    Write: function (doc) { request("call", {op: "write", collection: false, doc: documentOf(doc, "Write")}); },
    WriteCollection: function (doc) {
      request("call", {op: "write", collection: true, doc: documentOf(doc, "WriteCollection")});
    },
    GetOption: function (name) { return request("call", {op: "getOption", name: String(name)}); },
  });

  function createQuery(doc) {
    var query = documentOf(doc, "xtk.queryDef.create");
    var methods = aliases({
      ExecuteQuery: function () {
        var answer = request("call", {op: "query", doc: query});
        return typeof __e4x_fromXMLString === "function" ? __e4x_fromXMLString(answer) : answer;
      },
    });
    return guard(methods, "xtk.queryDef");
  }

  var queryDef = aliases({Create: createQuery});
  queryDef.create = createQuery;

  var subscription = aliases({
    Subscribe: function (service, recipient, create) {
      request("call", {op: "subscribe", service: service === undefined || service === null ? null : String(service),
                       recipient: documentOf(recipient, "Subscribe"), create: !!create});
    },
    Unsubscribe: function (service, recipient) {
      request("call", {op: "unsubscribe", service: service === undefined || service === null ? null : String(service),
                       recipient: documentOf(recipient, "Unsubscribe")});
    },
  });

  global.xtk = guard({session: guard(session, "xtk.session"), queryDef: guard(queryDef, "xtk.queryDef")}, "xtk");
  global.nms = guard({subscription: guard(subscription, "nms.subscription")}, "nms");
  global.NLWS = guard({
    xtkSession: guard(session, "NLWS.xtkSession"),
    xtkQueryDef: guard(queryDef, "NLWS.xtkQueryDef"),
    nmsSubscription: guard(subscription, "NLWS.nmsSubscription"),
  }, "NLWS");

  global.logInfo = function () { host("log", JSON.stringify({level: "info", message: text(arguments)})); };
  global.logWarning = function () { host("log", JSON.stringify({level: "warning", message: text(arguments)})); };
  global.logError = function () {
    var message = text(arguments);
    host("log", JSON.stringify({level: "error", message: message, stack: new Error().stack}));
    var error = new Error(message);
    error.code = "FRY-130005";
    throw error;
  };

  global.getOption = function (name) { return request("call", {op: "getOption", name: String(name)})[0]; };

  global.formatDate = function (date, format) {
    var when = date instanceof Date ? date.getTime() : (typeof date === "number" ? date : String(date));
    return request("formatDate", {date: when, format: format === undefined ? null : String(format)});
  };

  global.parseTimeStamp = function (value) {
    var millis = request("parseTimeStamp", {text: String(value)});
    return millis === null ? null : new Date(millis);
  };

  var loaded = {};
  global.loadLibrary = function (name) {
    name = String(name);
    if (loaded[name]) return;
    var code = request("library", {name: name});
    loaded[name] = true;
    (0, eval)(code);
  };

  // Campaign's JSAPI that has no meaning on an ingestion server: calling it ends the run naming it.
  ["sqlExec", "sqlGetInt", "sqlGetString", "sqlGetDouble", "sqlGetDate", "sqlGetMemo", "sqlSelect",
   "DOMDocument", "DOMElement", "execCommand", "setOption", "File", "HttpClientRequest", "MemoryBuffer"]
    .forEach(function (name) {
      global[name] = function () { return refuse(name); };
    });
  // Objects of Campaign's (`application.name`, `NL.require(...)`): any touch ends the run. A method-like name such
  // as `name` reaches here as the E4X translator's per-name symbol (described by the bare name), so it is named too.
  ["application", "NL", "task", "event"]
    .forEach(function (name) {
      function member(key) {
        if (typeof key === "string") return name + "." + key;
        var described = key.description;
        return typeof described === "string" && described.indexOf("Symbol.") !== 0 ? name + "." + described : name;
      }
      global[name] = new Proxy(function () { return refuse(name); }, {
        get: function (t, key) {
          // Looked up by JSON.stringify and promise resolution, never by a script's own code.
          if (key === "toJSON" || key === "then") return undefined;
          return refuse(member(key));
        },
        set: function (t, key) { return refuse(member(key)); },
        has: function (t, key) { return refuse(member(key)); },
        deleteProperty: function (t, key) { return refuse(member(key)); },
        defineProperty: function (t, key) { return refuse(member(key)); },
        ownKeys: function () { return refuse(name); },
        apply: function () { return refuse(name); },
        construct: function () { return refuse(name); },
      });
    });

  global.__ferry_run = function (code) {
    try {
      (0, eval)(code);
      return null;
    } catch (e) {
      var isObject = e !== null && (typeof e === "object" || typeof e === "function");
      return JSON.stringify({
        name: isObject && e.name !== undefined ? String(e.name) : null,
        message: isObject && e.message !== undefined ? String(e.message) : String(e),
        code: isObject && typeof e.code === "string" ? e.code : null,
        stack: isObject && typeof e.stack === "string" ? e.stack : null,
      });
    }
  };

  global.__ferry_instance_vars = function () {
    try {
      return JSON.stringify(global.instance && global.instance.vars !== undefined ? global.instance.vars : {});
    } catch (e) {
      return null;
    }
  };
})(globalThis);
