"""E4X JavaScript -> standard JavaScript: token rewrites over the lexer's output, then a layout that keeps lines."""

from __future__ import annotations

import bisect
import functools
import re
from array import array

from ferry.errors import SCRIPT_SYNTAX, FerryError
from ferry.scripts.e4x.lexer import (
    CLOSERS,
    NAME,
    NUM,
    OPENERS,
    PUNCT,
    REGEX,
    STR,
    TMPL,
    TMPL_HEAD,
    TMPL_MID,
    TMPL_TAIL,
    XML,
    XML_HEAD,
    XML_MID,
    XML_TAIL,
    Tok,
    js_string,
    tokenize,
)

# XML methods whose names a script also uses for child elements (`person.name` is the <name> child in E4X):
# a non-call access goes through a per-name symbol key that XML answers with children and other values with the
# ordinary property. `length`, `toString` and `valueOf` stay plain: they are everywhere on ordinary values.
_METHOD_LIKE = frozenset(
    [
        "name",
        "localName",
        "text",
        "parent",
        "children",
        "child",
        "attributes",
        "attribute",
        "elements",
        "comments",
        "descendants",
        "copy",
        "nodeKind",
        "namespace",
        "appendChild",
        "prependChild",
        "insertChildAfter",
        "insertChildBefore",
        "setChildren",
        "setName",
        "setLocalName",
        "contains",
        "childIndex",
        "hasSimpleContent",
        "hasComplexContent",
        "toXMLString",
        "normalize",
    ]
)

# `=` and the compound assignments: they end an operand of `==` and they are what `+=` rewriting looks for.
_ASSIGNMENT_OPERATORS = frozenset(
    ["=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=", "||=", "??="]
)

# Tokens that end an operand of `==` / `!=` (operators binding less tightly, separators, statement keywords).
_LOW = _ASSIGNMENT_OPERATORS | frozenset(
    [
        ",",
        ";",
        "?",
        ":",
        "&&",
        "||",
        "??",
        "&",
        "|",
        "^",
        "==",
        "!=",
        "===",
        "!==",
        "=>",
    ]
)
# Equality operators are left-associative: `a === b != c` is `(a === b) != c`, so the left operand of an
# equality runs over earlier ones.
_LOW_LEFT = _LOW - {"==", "!=", "===", "!=="}
_RELATIONAL = frozenset(["<", ">", "<=", ">=", "<<", ">>", ">>>", "==", "!=", "===", "!=="])
_ADDITIVE = frozenset(["+", "-"])
_ADDITIVE_LEFT_STOP = _LOW_LEFT | _RELATIONAL
_ADDITIVE_RIGHT_STOP = _LOW | _RELATIONAL
_HEAD_KEYWORDS = frozenset(["if", "while", "for", "with", "switch", "catch"])
_ALL_KEYWORDS = frozenset(
    [
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "let",
        "new",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ]
)
_STATEMENT_KEYWORDS = frozenset(["return", "throw", "case", "else", "do", "var", "let", "const", "yield"])
_STOP_KEYWORDS = _STATEMENT_KEYWORDS | frozenset(["if", "while", "for", "with", "switch", "catch", "function"])
_MEMBER_TEXTS = frozenset([".", "..", "@", "each"])
_OPERATOR_TEXTS = frozenset(["typeof", "==", "!=", "+=", "+"])
_COMMA_SEMICOLON = frozenset([",", ";"])
_ADDITIVE_STOP_NAMES = _STOP_KEYWORDS | frozenset(["in", "instanceof"])
_LITERAL_NAMES = frozenset(("true", "false"))
_ENDS_EXPRESSION = frozenset((NUM, STR, TMPL, REGEX, TMPL_TAIL, XML, XML_TAIL))
# Tokens that open / close / continue an expression-holding piece: templates and XML literals with {expressions}.
_HEADS = frozenset((TMPL_HEAD, XML_HEAD))
_TAILS = frozenset((TMPL_TAIL, XML_TAIL))
_MIDS_AND_TAILS = frozenset((TMPL_MID, TMPL_TAIL, XML_MID, XML_TAIL))
_HEADS_AND_MIDS = frozenset((TMPL_HEAD, TMPL_MID, XML_HEAD, XML_MID))


def _ends_expression(t: Tok) -> bool:
    if t.kind in _ENDS_EXPRESSION:
        return True
    if t.kind == NAME:
        return t.text not in _STATEMENT_KEYWORDS and t.text not in ("typeof", "void", "delete", "new", "in", "of")
    return t.text in (")", "]", "}", "++", "--")


def _starts_expression(t: Tok) -> bool:
    return t.kind != PUNCT or t.text in ("{", "!", "~", "++", "--")


def _statement_break(prev: Tok, t: Tok) -> bool:
    """True where a line break between two tokens ends a statement (automatic semicolon insertion)."""
    if not t.nl_before or not _ends_expression(prev) or not _starts_expression(t):
        return False
    return not (t.kind == PUNCT and t.text in ("(", "["))


_OPENING = frozenset(["(", "[", "{", "tmpl-head", "xml-head"])
_CLOSING = frozenset([")", "]", "}", "tmpl-tail", "xml-tail"])
_BRACKETS = _OPENING | _CLOSING


def _matches(toks: list[Tok]) -> list[int]:
    """For each bracket token the index of its partner (the lexer checked they balance), else -1."""
    match = [-1] * len(toks)
    stack: list[int] = []
    brackets = _BRACKETS
    # Template pieces are matched by kind (a string token may hold "(" as text only with its quotes).
    for i in [i for i, t in enumerate(toks) if (t.text if t.kind == PUNCT else t.kind) in brackets]:
        t = toks[i]
        if (t.text if t.kind == PUNCT else t.kind) in _OPENING:
            stack.append(i)
        elif stack:
            j = stack.pop()
            match[i], match[j] = j, i
    return match


def _tok(kind: str, text: str, at: Tok) -> Tok:
    return Tok(kind, text, at.line, at.col)


_SNIPPET_RE = re.compile(r'[A-Za-z_$][\w$]*|"(?:\\.|[^"\\])*"|===|==|\S')


def _snippet(text: str, at: Tok) -> list[Tok]:
    """Tokens for inserted code, each bracket its own token so later passes can match them."""
    out = []
    for piece in _SNIPPET_RE.findall(text):
        kind = NAME if piece[0].isalpha() or piece[0] in "_$" else STR if piece[0] == '"' else PUNCT
        out.append(Tok(kind, piece, at.line, at.col))
    return out


class _Rewriter:
    def __init__(self, toks: list[Tok], filename: str) -> None:
        self.toks = toks
        self.filename = filename

    def error(self, message: str, at: Tok) -> FerryError:
        return FerryError(SCRIPT_SYNTAX, f"{self.filename}:{at.line}:{at.col}: {message}")

    # ---- pass 1: E4X member syntax, for each, filters -------------------------------------------------------
    def members(self) -> None:
        toks = self.toks
        candidates = [i for i, t in enumerate(toks) if t.text in _MEMBER_TEXTS]
        if not candidates:
            return
        match = _matches(toks)
        out: list[Tok] = []
        close_with: dict[int, list[Tok]] = {}  # index of a closer -> tokens to emit in its place
        filter_depth: list[int] = []  # closers of the `.(…)` predicates we are in
        i = 0
        n = len(toks)
        next_candidate = 0
        while i < n:
            if not close_with:
                # Copy the stretch up to the next token that may start E4X syntax.
                while next_candidate < len(candidates) and candidates[next_candidate] < i:
                    next_candidate += 1
                stop = candidates[next_candidate] if next_candidate < len(candidates) else n
                if stop > i:
                    out.extend(toks[i:stop])
                    i = stop
                    continue
            t = toks[i]
            nxt = toks[i + 1] if i + 1 < n else None
            if i in close_with:
                out.extend(close_with.pop(i))
                if filter_depth and filter_depth[-1] == i:
                    filter_depth.pop()
                i += 1
                continue
            if t.kind == PUNCT and t.text in (".", "..") and nxt is not None:
                prefix = "" if t.text == "." else ".."
                if nxt.text == "@" and nxt.kind == PUNCT:
                    i = self.attribute(i + 2, prefix, t, out, match, close_with)
                    continue
                if nxt.kind == PUNCT and nxt.text == "*":
                    out += [_tok(PUNCT, "[", t), _tok(STR, js_string(prefix + "*"), nxt), _tok(PUNCT, "]", nxt)]
                    i += 2
                    continue
                if prefix and nxt.kind == NAME:
                    out += [_tok(PUNCT, "[", t), _tok(STR, js_string(".." + nxt.text), nxt), _tok(PUNCT, "]", nxt)]
                    i += 2
                    continue
                if prefix:
                    raise self.error("a name, @name or * expected after '..'", t)
                if nxt.kind == PUNCT and nxt.text == "(":
                    end = match[i + 1]
                    out += _snippet(".__e4x_filter(function(__e4x_it){return(", nxt)
                    close_with[end] = _snippet(")})", toks[end])
                    filter_depth.append(end)
                    i += 2
                    continue
                if nxt.kind == NAME and nxt.text in _METHOD_LIKE:
                    after = toks[i + 2] if i + 2 < n else None
                    if after is None or after.text != "(" or after.kind != PUNCT:
                        out += _snippet(f"[__e4x_key({js_string(nxt.text)})]", nxt)
                        i += 2
                        continue
                    if nxt.text == "appendChild" and i + 3 < n and toks[i + 3].kind in _LITERAL_STARTS:
                        end = i + 3 if toks[i + 3].kind == XML else match[i + 3]
                        if match[i + 2] == end + 1:
                            # `x.appendChild(<literal>)`: the literal's nodes go straight into x (no XML object
                            # for it, no copy of it: nothing else can reach a literal written as the argument).
                            out += _snippet("[__e4x_append](", nxt)
                            head = toks[i + 3]
                            text = head.text[len(_LITERAL_CALL) :]
                            if head.kind == XML:
                                out.append(Tok(head.kind, text[:-1], head.line, head.col, head.nl_before))
                                i += 4
                                continue
                            out.append(Tok(head.kind, text, head.line, head.col, head.nl_before))
                            tail = toks[end]
                            close_with[end] = [Tok(tail.kind, tail.text[:-1], tail.line, tail.col, tail.nl_before)]
                            i += 4
                            continue
            if t.kind == PUNCT and t.text == "@":
                if not filter_depth:
                    raise self.error("'@' is only valid after '.', '..' or inside a .(…) filter", t)
                out.append(_tok(NAME, "__e4x_it", t))
                i = self.attribute(i + 1, "", t, out, match, close_with)
                continue
            if filter_depth and _parameters_end(toks, i, match) > i:
                # Parameters of a function or arrow function inside a filter are declarations: kept as written.
                end = _parameters_end(toks, i, match)
                out.extend(toks[i:end])
                i = end
                continue
            if filter_depth and t.kind == NAME and _names_a_variable(toks, i):
                # Inside `.(…)` a name is the item's children when it has some, else the script's variable (E4X
                # puts the item on the scope chain; a `with` block would too, but strict mode forbids it).
                quoted = js_string(t.text)
                out += _snippet(f"(__e4x_in(__e4x_it,{quoted})?__e4x_child(__e4x_it,{quoted}):", t)
                if i > 0 and toks[i - 1].kind == NAME and toks[i - 1].text == "typeof":
                    # `typeof name` of an undeclared name is "undefined", not a ReferenceError.
                    out += _snippet(f'typeof {t.text}==="undefined"?void 0:', t)
                out += [t, _tok(PUNCT, ")", t)]
                i += 1
                continue
            if t.kind == NAME and t.text == "each" and i > 0 and toks[i - 1].text == "for" and nxt is not None:
                if nxt.text != "(":
                    raise self.error("'(' expected after 'for each'", nxt)
                end = match[i + 1]
                depth = 0
                for k in range(i + 2, end):
                    s = toks[k]
                    if s.kind == PUNCT and s.text in OPENERS:
                        depth += 1
                    elif s.kind == PUNCT and s.text in CLOSERS:
                        depth -= 1
                    elif depth == 0 and s.kind == NAME and s.text == "in":
                        close_with[k] = _snippet("of __e4x_each(", s)
                        close_with[end] = _snippet("))", toks[end])
                        break
                else:
                    raise self.error("'in' expected in 'for each (… in …)'", nxt)
                i += 1  # drop `each`
                continue
            out.append(t)
            i += 1
        self.toks = out

    def attribute(
        self, i: int, prefix: str, at: Tok, out: list[Tok], match: list[int], close_with: dict[int, list[Tok]]
    ) -> int:
        """`.@name`, `.@*`, `.@[expr]` (and with `..`) from the token after `@`; returns the next index."""
        toks = self.toks
        if i >= len(toks):
            raise self.error("attribute name expected after '@'", at)
        t = toks[i]
        if t.kind == NAME or (t.kind == PUNCT and t.text == "*"):
            name = t.text
            # `ns:name` attribute names in E4X code (`x.@ns::a`) are not supported; plain names are.
            out += [_tok(PUNCT, "[", at), _tok(STR, js_string(prefix + "@" + name), t), _tok(PUNCT, "]", t)]
            return i + 1
        if t.kind == PUNCT and t.text == "[":
            out += [_tok(PUNCT, "[", at), _tok(STR, js_string(prefix + "@"), t), *_snippet("+(", t)]
            close_with[match[i]] = _snippet(")]", toks[match[i]])
            return i + 1
        raise self.error("attribute name expected after '@'", t)

    # ---- expression extents -----------------------------------------------------------------------------------
    def left_start(
        self, i: int, match: list[int], stop: frozenset[str] = _LOW_LEFT, stop_names: frozenset[str] = _STOP_KEYWORDS
    ) -> int:
        """Index of the first token of the left operand (of `==`, `!=`, `+`) ending at token `i`."""
        toks = self.toks
        j = i
        while j >= 0:
            t = toks[j]
            if t.kind == PUNCT:
                if t.text == "}":
                    break  # a `}` ends a block (statement boundary) far more often than an object literal operand
                if t.text in CLOSERS:
                    j = match[j]
                    if j > 0 and toks[j - 1].kind == NAME and toks[j - 1].text in _HEAD_KEYWORDS:
                        return match[j] + 1  # `if (c) a == b`: the operand starts after the head
                elif t.text in OPENERS or t.text in stop:
                    break
            elif t.kind in _TAILS:
                j = match[j]
            elif t.kind in _HEADS_AND_MIDS or (t.kind == NAME and t.text in stop_names):
                break
            if j > 0 and _statement_break(toks[j - 1], toks[j]):
                return j
            j -= 1
        return j + 1

    def member_start(self, i: int, match: list[int]) -> int:
        """Index of the first token of the assignment target ending at token `i` (`x.child` in `x.child += …`),
        or `i + 1` when it is not a name, member or call chain."""
        toks = self.toks
        j = i
        while j >= 0:
            t = toks[j]
            if t.kind == PUNCT and t.text in (")", "]"):
                k = match[j]
                prev = toks[k - 1] if k > 0 else None
                if prev is not None and _ends_expression(prev) and prev.kind != NUM and not toks[k].nl_before:
                    j = k - 1
                    continue
                return k if t.text == ")" else i + 1
            if t.kind == NAME and (t.text not in _ALL_KEYWORDS or t.text == "this"):
                if j > 0 and toks[j - 1].kind == PUNCT and toks[j - 1].text in (".", "?."):
                    j -= 2
                    continue
                return j
            return i + 1
        return i + 1

    def right_end(
        self,
        i: int,
        match: list[int],
        stop: frozenset[str],
        stop_names: frozenset[str] = _STOP_KEYWORDS,
        binary_stop: frozenset[str] = frozenset(),
    ) -> int:
        """Index after the last token of the operand starting at token `i` (`binary_stop`: operators that end it
        only as binary operators, as `-` in `a + b - c` but not in `a + -b`)."""
        toks = self.toks
        n = len(toks)
        j = i
        while j < n:
            t = toks[j]
            if j > i and _statement_break(toks[j - 1], t):
                break
            if t.kind == PUNCT:
                if t.text in OPENERS:
                    j = match[j] + 1
                    continue
                if t.text in CLOSERS or t.text in stop:
                    break
                if j > i and t.text in binary_stop and _ends_expression(toks[j - 1]):
                    break
            elif t.kind in _HEADS:
                j = match[j] + 1
                continue
            elif t.kind in _MIDS_AND_TAILS or (t.kind == NAME and t.text in stop_names):
                break
            j += 1
        return j

    def unary_end(self, i: int, match: list[int]) -> int:
        """Index after the unary expression starting at token `i` (the operand of `typeof`)."""
        toks = self.toks
        n = len(toks)
        j = i
        while j < n and (
            (toks[j].kind == NAME and toks[j].text in ("typeof", "void", "delete", "new", "await"))
            or (toks[j].kind == PUNCT and toks[j].text in ("!", "~", "-", "+", "++", "--"))
        ):
            j += 1
        if j >= n:
            return j
        t = toks[j]
        if t.kind == NAME and t.text == "function":
            j += 1
            if j < n and toks[j].kind == NAME:
                j += 1
            if j < n and toks[j].text == "(":
                j = match[j] + 1
            if j < n and toks[j].text == "{":
                j = match[j] + 1
        elif (t.kind == PUNCT and t.text in OPENERS) or t.kind in _HEADS:
            j = match[j] + 1
        else:
            j += 1
        while j < n:
            t = toks[j]
            if t.kind == PUNCT and t.text in (".", "?.") and j + 1 < n:
                j += 2
            elif t.kind == PUNCT and t.text in ("[", "("):
                j = match[j] + 1
            elif t.kind == TMPL:
                j += 1
            elif t.kind == TMPL_HEAD:
                j = match[j] + 1
            else:
                break
        return j

    # ---- pass 2: typeof, `+=`, `==` / `!=` (one scan, insertions applied together) ------------------------------
    def operators(self) -> None:
        toks = self.toks
        candidates = [i for i, t in enumerate(toks) if t.text in _OPERATOR_TEXTS]
        if not candidates:
            return
        match = _matches(toks)
        before: dict[int, list[Tok]] = {}
        after: dict[int, int] = {}  # index -> how many `)` to emit after it
        replace: dict[int, list[Tok]] = {}
        n = len(toks)
        for i in candidates:
            t = toks[i]
            text = t.text
            if t.kind == NAME:
                if text != "typeof" or i + 1 >= n:
                    continue
                end = self.unary_end(i + 1, match)
                if end == i + 2 and toks[i + 1].kind == NAME:
                    # A bare name may be undeclared: `typeof` must not throw for it.
                    call = f'__e4x_typeof(typeof {toks[i + 1].text}==="undefined"?void 0:'
                else:
                    call = "__e4x_typeof("
                before.setdefault(i + 1, []).extend(_snippet(call, t))
                after[end - 1] = after.get(end - 1, 0) + 1
                replace[i] = []
            elif t.kind != PUNCT or (text != "==" and text != "!=" and text != "+=" and text != "+"):
                continue
            elif text == "+":
                # E4X: XML + XML is an XMLList. Routed to the runtime unless an operand is a literal (then it is
                # the engine's own string or number addition either way).
                if i == 0 or not _ends_expression(toks[i - 1]):
                    continue  # unary plus
                start = self.left_start(i - 1, match, _ADDITIVE_LEFT_STOP, _ADDITIVE_STOP_NAMES)
                end = self.right_end(i + 1, match, _ADDITIVE_RIGHT_STOP, _ADDITIVE_STOP_NAMES, _ADDITIVE)
                if start >= i or end <= i + 1 or _plain_literal(toks, start, i) or _plain_literal(toks, i + 1, end):
                    continue
                before[start] = _snippet("__e4x_add(", toks[start]) + before.get(start, [])
                after[end - 1] = after.get(end - 1, 0) + 1
                replace[i] = [_tok(PUNCT, ",", t)]
            elif text == "+=":
                start = self.member_start(i - 1, match)
                end = self.right_end(i + 1, match, _COMMA_SEMICOLON)
                if start >= i or (end == i + 2 and toks[i + 1].kind in (NUM, STR)):
                    continue  # `s += "x"`, `n += 1`: the native operator is right
                copy = [_tok(s.kind, s.text, s) for s in toks[start:i]]
                replace[i] = [_tok(PUNCT, "=", t), *_snippet("__e4x_add(", t), *copy, _tok(PUNCT, ",", t)]
                after[end - 1] = after.get(end - 1, 0) + 1
            else:
                start = self.left_start(i - 1, match)
                end = self.right_end(i + 1, match, _LOW)
                if start >= i or end <= i + 1:
                    continue
                if _plain_literal(toks, start, i) and _plain_literal(toks, i + 1, end):
                    continue  # no XML value can be involved
                call = "__e4x_eq(" if text == "==" else "!__e4x_eq("
                before[start] = _snippet(call, toks[start]) + before.get(start, [])
                after[end - 1] = after.get(end - 1, 0) + 1
                replace[i] = [_tok(PUNCT, ",", t)]
        if not replace:
            return
        out: list[Tok] = []
        copied = 0  # tokens before this index are in `out`
        for i in sorted(set(before) | set(replace) | set(after)):
            out.extend(toks[copied:i])
            copied = i + 1
            if i in before:
                out.extend(before[i])
            if i in replace:
                out.extend(replace[i])
            else:
                out.append(toks[i])
            if i in after:
                out.extend(_tok(PUNCT, ")", toks[i]) for _ in range(after[i]))
        out.extend(toks[copied:])
        self.toks = out


_NOT_VARIABLES = _ALL_KEYWORDS | frozenset(
    ["true", "false", "null", "undefined", "NaN", "Infinity", "arguments", "of", "let", "async", "await", "get", "set"]
)
_ASSIGNMENTS = _ASSIGNMENT_OPERATORS | frozenset(
    [
        "++",
        "--",
        "=>",
    ]
)


def _parameters_end(toks: list[Tok], i: int, match: list[int]) -> int:
    """After the parameter list starting at `i` (`function f(a, b)`, `(a, b) =>`), else `i`."""
    t = toks[i]
    if t.kind == NAME and t.text == "function":
        j = i + 1
        if j < len(toks) and toks[j].kind == NAME:
            j += 1
        if j < len(toks) and toks[j].kind == PUNCT and toks[j].text == "(":
            return match[j] + 1
        return i
    if t.kind == PUNCT and t.text == "(":
        end = match[i]
        if end + 1 < len(toks) and toks[end + 1].kind == PUNCT and toks[end + 1].text == "=>":
            return end + 1
    return i


def _names_a_variable(toks: list[Tok], i: int) -> bool:
    """True when the name at `i` reads a variable (not a property, key, declaration or assignment target)."""
    t = toks[i]
    if t.text in _NOT_VARIABLES or t.text.startswith("__e4x_"):
        return False
    prev = toks[i - 1] if i > 0 else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if prev is not None:
        if prev.kind == PUNCT and prev.text in (".", "?.", "..", "++", "--"):
            return False
        if prev.kind == NAME and prev.text in ("function", "var", "let", "const", "class", "catch"):
            return False
    if nxt is not None and nxt.kind == PUNCT:
        if nxt.text in _ASSIGNMENTS:
            return False
        if nxt.text == ":" and prev is not None and prev.kind == PUNCT and prev.text in ("{", ","):
            return False  # an object literal's key
    return True


def _plain_literal(toks: list[Tok], start: int, end: int) -> bool:
    if end - start == 1:
        t = toks[start]
        return t.kind in (NUM, STR, TMPL) or (t.kind == NAME and t.text in _LITERAL_NAMES)
    return bool(
        end - start == 2 and toks[start].kind == PUNCT and toks[start].text == "-" and toks[start + 1].kind == NUM
    )


_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_OPERATOR_CHARS = frozenset("+-*/%=<>&|!?.")


_LITERAL_STARTS = frozenset((XML, XML_HEAD))
_LITERAL_CALL = "__e4x_literal("
_MULTILINE_KINDS = frozenset([TMPL, TMPL_HEAD, TMPL_MID, TMPL_TAIL, XML, XML_HEAD, XML_MID, XML_TAIL])


class Translation:
    """Standard JavaScript for an E4X script, and where its positions come from in the original."""

    def __init__(self, code: str, anchors: list[tuple[int, int, int, int]] | array[int]) -> None:
        self.code = code
        # (generated line, generated column, original line, original column) where each token starts, in order;
        # as tuples, or flat (four ints each) when read back from the disk cache.
        self._anchors = anchors
        self._by_line: dict[int, tuple[list[int], list[tuple[int, int]]]] | None = None

    def flat_anchors(self) -> array[int]:
        """The anchors as one flat array of ints, four per token (what the disk cache keeps)."""
        if isinstance(self._anchors, array):
            return self._anchors
        return array("i", [n for anchor in self._anchors for n in anchor])

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        """The 1-based line and column of the original script that `code`'s line and column stand for."""
        if self._by_line is None:
            by_line: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}
            anchors = self._anchors
            quads = (
                zip(anchors[0::4], anchors[1::4], anchors[2::4], anchors[3::4], strict=True)
                if isinstance(anchors, array)
                else anchors
            )
            for gen_line, gen_col, orig_line, orig_col in quads:
                cols, origins = by_line.setdefault(gen_line, ([], []))
                cols.append(gen_col)
                origins.append((orig_line, orig_col))
            self._by_line = by_line
        entry = self._by_line.get(line)
        if entry is None:
            return line, column
        cols, origins = entry
        k = bisect.bisect_right(cols, column) - 1
        if k < 0:
            return origins[0][0], 1
        orig_line, orig_col = origins[k]
        return orig_line, orig_col + (column - cols[k])


def _layout(toks: list[Tok]) -> Translation:
    """Joins tokens, putting each on its original line (and column when nothing was inserted before it)."""
    parts: list[str] = []
    append = parts.append
    anchors: list[tuple[int, int, int, int]] = []
    anchor = anchors.append
    line, col = 1, 1  # next character's position in the output
    last = ""
    word, operator = _WORD, _OPERATOR_CHARS
    for t in toks:
        tl, tc, text = t.line, t.col, t.text
        if tl > line:
            append("\n" * (tl - line))
            line, col, last = tl, 1, ""
        if tl == line and col < tc:
            append(" " * (tc - col))
            col = tc
        elif last and ((last in word and text[0] in word) or (last in operator and text[0] in operator)):
            append(" ")
            col += 1
        anchor((line, col, tl, tc))
        append(text)
        if t.kind in _MULTILINE_KINDS and "\n" in text:
            line += text.count("\n")
            col = len(text) - text.rindex("\n")
        else:
            col += len(text)
        last = text[-1]
    return Translation("".join(parts) + "\n", anchors)


@functools.lru_cache(maxsize=64)
def translate(source: str, filename: str = "<script>") -> Translation:
    """Translates an E4X script to standard JavaScript run after RUNTIME_JS; a syntax error raises FerryError.
    A scheduled workflow runs the same script again and again: a process keeps its last translations."""
    rewriter = _Rewriter(tokenize(source, filename), filename)
    rewriter.members()
    rewriter.operators()
    return _layout(rewriter.toks)
