"""E4X JavaScript -> standard JavaScript: token rewrites over the lexer's output, then a layout that keeps lines."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

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

# Tokens that end an operand of `==` / `!=` (operators binding less tightly, separators, statement keywords).
_LOW = frozenset(
    [
        "=",
        "+=",
        "-=",
        "*=",
        "/=",
        "%=",
        "**=",
        "<<=",
        ">>=",
        ">>>=",
        "&=",
        "|=",
        "^=",
        "&&=",
        "||=",
        "??=",
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
_LITERAL_NAMES = frozenset(("true", "false"))
_ENDS_EXPRESSION = frozenset((NUM, STR, TMPL, REGEX, TMPL_TAIL))


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


def _matches(toks: list[Tok]) -> list[int]:
    """For each bracket token the index of its partner (the lexer checked they balance), else -1."""
    match = [-1] * len(toks)
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.kind == TMPL_HEAD:
            stack.append(i)
        elif t.kind == TMPL_TAIL and stack:
            j = stack.pop()
            match[i], match[j] = j, i
        if t.kind != PUNCT:
            continue
        if t.text in OPENERS:
            stack.append(i)
        elif t.text in CLOSERS and stack:
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
        match = _matches(toks)
        out: list[Tok] = []
        close_with: dict[int, list[Tok]] = {}  # index of a closer -> tokens to emit in its place
        filter_depth: list[int] = []  # closers of the `.(…)` predicates we are in
        i = 0
        n = len(toks)
        while i < n:
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
                    out += _snippet(".__e4x_filter(function(__e4x_it){with(__e4x_it){return(", nxt)
                    close_with[end] = _snippet(")}})", toks[end])
                    filter_depth.append(end)
                    i += 2
                    continue
                if nxt.kind == NAME and nxt.text in _METHOD_LIKE:
                    after = toks[i + 2] if i + 2 < n else None
                    if after is None or after.text != "(" or after.kind != PUNCT:
                        out += _snippet(f"[__e4x_key({js_string(nxt.text)})]", nxt)
                        i += 2
                        continue
            if t.kind == PUNCT and t.text == "@":
                if not filter_depth:
                    raise self.error("'@' is only valid after '.', '..' or inside a .(…) filter", t)
                out.append(_tok(NAME, "__e4x_it", t))
                i = self.attribute(i + 1, "", t, out, match, close_with)
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
    def left_start(self, i: int, match: list[int]) -> int:
        """Index of the first token of the operand of `==` / `!=` ending at token `i`."""
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
                elif t.text in OPENERS or t.text in _LOW:
                    break
            elif t.kind == TMPL_TAIL:
                j = match[j]
            elif t.kind in (TMPL_HEAD, TMPL_MID) or (t.kind == NAME and t.text in _STOP_KEYWORDS):
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

    def right_end(self, i: int, match: list[int], stop: frozenset[str]) -> int:
        """Index after the last token of the operand starting at token `i`."""
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
            elif t.kind == TMPL_HEAD:
                j = match[j] + 1
                continue
            elif t.kind in (TMPL_MID, TMPL_TAIL) or (t.kind == NAME and t.text in _STOP_KEYWORDS):
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
        elif (t.kind == PUNCT and t.text in OPENERS) or t.kind == TMPL_HEAD:
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

    # ---- pass 2: typeof -----------------------------------------------------------------------------------------
    def typeofs(self) -> None:
        toks = self.toks
        if not any(t.kind == NAME and t.text == "typeof" for t in toks):
            return
        match = _matches(toks)
        before: dict[int, list[Tok]] = {}
        after: dict[int, list[Tok]] = {}
        drop: set[int] = set()
        for i, t in enumerate(toks):
            if t.kind != NAME or t.text != "typeof" or i + 1 >= len(toks):
                continue
            end = self.unary_end(i + 1, match)
            if end == i + 2 and toks[i + 1].kind == NAME:
                # A bare name may be undeclared: `typeof` must not throw for it.
                name = toks[i + 1].text
                before.setdefault(i + 1, []).extend(_snippet(f'__e4x_typeof(typeof {name}==="undefined"?void 0:', t))
            else:
                before.setdefault(i + 1, []).extend(_snippet("__e4x_typeof(", t))
            after.setdefault(end - 1, []).insert(0, _tok(PUNCT, ")", toks[end - 1]))
            drop.add(i)
        self.toks = _apply(toks, before, after, drop)

    # ---- pass 3: `+=` ------------------------------------------------------------------------------------------
    def plus_assignments(self) -> None:
        toks = self.toks
        if not any(t.kind == PUNCT and t.text == "+=" for t in toks):
            return
        match = _matches(toks)
        out: list[Tok] = []
        replaced: dict[int, tuple[int, int, int]] = {}
        for i, t in enumerate(toks):
            if t.kind == PUNCT and t.text == "+=" and i > 0:
                start = self.member_start(i - 1, match)
                end = self.right_end(i + 1, match, frozenset((",", ";")))
                if end == i + 2 and toks[i + 1].kind in (NUM, STR):
                    continue  # `s += "x"`, `n += 1`: the native operator is right
                if start >= i:
                    continue
                replaced[i] = (start, i, end)
        if not replaced:
            return
        closers: dict[int, int] = {}
        for i, t in enumerate(toks):
            if i in replaced:
                start, _, end = replaced[i]
                out.append(_tok(PUNCT, "=", t))
                out.extend(_snippet("__e4x_add(", t))
                out.extend(_tok(s.kind, s.text, s) for s in toks[start:i])
                out.append(_tok(PUNCT, ",", t))
                closers[end - 1] = closers.get(end - 1, 0) + 1
            else:
                out.append(t)
            if i in closers:
                out.extend(_tok(PUNCT, ")", t) for _ in range(closers[i]))
        self.toks = out

    # ---- pass 4: `==` / `!=` by value ----------------------------------------------------------------------------
    def equalities(self) -> None:
        toks = self.toks
        if not any(t.kind == PUNCT and t.text in ("==", "!=") for t in toks):
            return
        match = _matches(toks)
        before: dict[int, list[Tok]] = {}
        after: dict[int, list[Tok]] = {}
        replace: dict[int, Tok] = {}
        starts: dict[int, int] = {}
        for i, t in enumerate(toks):
            if t.kind != PUNCT or t.text not in ("==", "!="):
                continue
            start = self.left_start(i - 1, match)
            if start - 1 in starts:  # `a == b == c`: the left operand is the earlier comparison
                start = starts[start - 1]
            end = self.right_end(i + 1, match, _LOW)
            if start >= i or end <= i + 1:
                continue
            if _plain_literal(toks, start, i) or _plain_literal(toks, i + 1, end):
                continue  # XML compared with a string or a number: ToPrimitive already gives E4X's answer
            starts[i] = start
            call = "__e4x_eq(" if t.text == "==" else "!__e4x_eq("
            before[start] = _snippet(call, toks[start]) + before.get(start, [])
            after.setdefault(end - 1, []).append(_tok(PUNCT, ")", toks[end - 1]))
            replace[i] = _tok(PUNCT, ",", t)
        self.toks = _apply(toks, before, after, set(), replace)


def _plain_literal(toks: list[Tok], start: int, end: int) -> bool:
    if end - start == 1:
        t = toks[start]
        return t.kind in (NUM, STR) or (t.kind == NAME and t.text in _LITERAL_NAMES)
    return bool(
        end - start == 2 and toks[start].kind == PUNCT and toks[start].text == "-" and toks[start + 1].kind == NUM
    )


def _apply(
    toks: list[Tok],
    before: dict[int, list[Tok]],
    after: dict[int, list[Tok]],
    drop: set[int],
    replace: dict[int, Tok] | None = None,
) -> list[Tok]:
    out: list[Tok] = []
    for i, t in enumerate(toks):
        if i in before:
            out.extend(before[i])
        if i not in drop:
            out.append(replace[i] if replace and i in replace else t)
        if i in after:
            out.extend(after[i])
    return out


_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_OPERATOR_CHARS = frozenset("+-*/%=<>&|!?.")


@dataclass
class Translation:
    """Standard JavaScript for an E4X script, and where its positions come from in the original."""

    code: str
    # Per generated line (0-based): sorted generated columns (1-based) and their original (line, column).
    _columns: list[list[int]] = field(default_factory=list, repr=False)
    _origins: list[list[tuple[int, int]]] = field(default_factory=list, repr=False)

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        """The 1-based line and column of the original script that `code`'s line and column stand for."""
        if line < 1 or line > len(self._columns):
            return line, column
        cols = self._columns[line - 1]
        k = bisect.bisect_right(cols, column) - 1
        if k < 0:
            return (self._origins[line - 1][0][0], 1) if cols else (line, column)
        orig_line, orig_col = self._origins[line - 1][k]
        return orig_line, orig_col + (column - cols[k])


def _layout(toks: list[Tok]) -> Translation:
    """Joins tokens, putting each on its original line (and column when nothing was inserted before it)."""
    parts: list[str] = []
    line, col = 1, 1  # next character's position in the output
    columns: list[list[int]] = [[]]
    origins: list[list[tuple[int, int]]] = [[]]
    last = ""
    for t in toks:
        if t.line > line:
            parts.append("\n" * (t.line - line))
            for _ in range(t.line - line):
                columns.append([])
                origins.append([])
            line, col = t.line, 1
            last = ""
        if t.line == line and col < t.col:
            parts.append(" " * (t.col - col))
            col = t.col
        elif last and (
            (last in _WORD and t.text[0] in _WORD) or (last in _OPERATOR_CHARS and t.text[0] in _OPERATOR_CHARS)
        ):
            parts.append(" ")
            col += 1
        columns[-1].append(col)
        origins[-1].append((t.line, t.col))
        parts.append(t.text)
        breaks = t.text.count("\n")
        if breaks:
            for _ in range(breaks):
                columns.append([])
                origins.append([])
            line += breaks
            col = len(t.text) - t.text.rindex("\n")
        else:
            col += len(t.text)
        last = t.text[-1]
    return Translation("".join(parts) + "\n", columns, origins)


def translate(source: str, filename: str = "<script>") -> Translation:
    """Translates an E4X script to standard JavaScript run after RUNTIME_JS; a syntax error raises FerryError."""
    rewriter = _Rewriter(tokenize(source, filename), filename)
    rewriter.members()
    rewriter.typeofs()
    rewriter.plus_assignments()
    rewriter.equalities()
    return _layout(rewriter.toks)
