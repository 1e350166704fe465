"""Tokens of E4X JavaScript: strings, templates, comments, regex versus division, and XML literals as calls."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_string

from ferry.errors import SCRIPT_SYNTAX, FerryError

# Token kinds.
NAME, NUM, STR, TMPL, REGEX, PUNCT = "name", "num", "str", "tmpl", "regex", "punct"
# A template literal with substitutions: `…${ (head), }…${ (middle), }…` (tail), the expressions lexed in between.
TMPL_HEAD, TMPL_MID, TMPL_TAIL = "tmpl-head", "tmpl-mid", "tmpl-tail"
# An XML literal's own code (`__e4x_literal(shape,[…])`) is one token when it holds no {expression}; else pieces
# around the expressions' tokens, as a template's: `__e4x_literal(…,["<a x=",["a",(` (head), `)],…,["c",(` (middle),
# `)],"/>"])` (tail). Later passes then step over a literal in one token instead of twenty.
XML, XML_HEAD, XML_MID, XML_TAIL = "xml", "xml-head", "xml-mid", "xml-tail"
_SHAPE_PLACEHOLDER = '"' + "?" * 20 + '"'  # as long as the shape's name: filled in once the literal is read

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")", "]", "}"}

# After these keywords an expression starts: `/` is a regex and `<` an XML literal.
_EXPR_KEYWORDS = frozenset(
    [
        "return",
        "typeof",
        "instanceof",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "case",
        "do",
        "else",
        "yield",
        "await",
    ]
)
# Keywords whose parenthesised head is followed by a statement (`if (x) <a/>`), not by an operator.
_HEAD_KEYWORDS = frozenset(("if", "while", "for", "with"))
_ENDS_OPERAND = frozenset((NUM, STR, TMPL, REGEX, TMPL_TAIL, XML, XML_TAIL))

_PUNCTS = sorted(
    [
        ">>>=",
        "...",
        "===",
        "!==",
        "**=",
        "<<=",
        ">>=",
        ">>>",
        "?.",
        "??",
        "??=",
        "&&=",
        "||=",
        "=>",
        "==",
        "!=",
        "<=",
        ">=",
        "&&",
        "||",
        "++",
        "--",
        "+=",
        "-=",
        "*=",
        "/=",
        "%=",
        "&=",
        "|=",
        "^=",
        "<<",
        ">>",
        "**",
        "..",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ";",
        ",",
        "<",
        ">",
        "+",
        "-",
        "*",
        "/",
        "%",
        "&",
        "|",
        "^",
        "!",
        "~",
        "?",
        ":",
        "=",
        ".",
        "@",
    ],
    key=len,
    reverse=True,
)
_PUNCT_RE = re.compile("|".join(re.escape(p) for p in _PUNCTS))
_NAME_RE = re.compile(r"[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*")
_NUM_RE = re.compile(
    r"0[xX][0-9a-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?"
)
# Blanks and line comments, then one token (or a line break, or the end): one match per token.
_MASTER_RE = re.compile(
    r"(?:[ \t\f\v\r\u00a0\ufeff]+|//[^\n\u2028\u2029]*)*(?:"
    + "|".join(
        (
            r"(?P<nl>\n|\u2028|\u2029)",
            r"(?P<name>[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*)",
            r"(?P<num>" + _NUM_RE.pattern + ")",
            r"""(?P<str>"(?:[^"\\\n]|\\[\s\S])*"|'(?:[^'\\\n]|\\[\s\S])*')""",
            r"(?P<punct>/\*|" + _PUNCT_RE.pattern + ")",
            r"(?P<end>\Z)",
        )
    )
    + ")"
)
# One line's lexemes, in the master pattern's order; a lone character (a quote, a backquote, …) when none fits.
_SCAN_RE = re.compile(
    r"[ \t\f\v\r\u00a0\ufeff]+|//[^\n\u2028\u2029]*|\n|\u2028|\u2029|[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*|"
    + _NUM_RE.pattern
    + r"""|"(?:[^"\\\n]|\\[\s\S])*"|'(?:[^'\\\n]|\\[\s\S])*'|/\*|"""
    + _PUNCT_RE.pattern
    + r"|[\s\S]"
)
_C_NAME, _C_NUM, _C_BLANK, _C_NL, _C_PUNCT, _C_QUOTE, _C_SLASH, _C_ANGLE, _C_DOT, _C_OTHER = range(10)
_FIRST_CHAR: dict[str, int] = {
    **{c: _C_NAME for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$"},
    **{c: _C_NUM for c in "0123456789"},
    **{c: _C_BLANK for c in " \t\f\v\r\u00a0\ufeff"},
    **{c: _C_NL for c in "\n\u2028\u2029"},
    **{c: _C_PUNCT for c in "{}()[];,>+-*%&|^!~?:=@"},
    '"': _C_QUOTE,
    "'": _C_QUOTE,
    "/": _C_SLASH,
    "<": _C_ANGLE,
    ".": _C_DOT,
}
_XML_NAME_RE = re.compile(r"[A-Za-z_:][\w:.\-]*")
_XML_SPACE_RE = re.compile(r"\s+")
_XML_STATIC_TAG_RE = re.compile(
    r"""<([A-Za-z_:][\w:.\-]*)(?:\s+[A-Za-z_:][\w:.\-]*\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>"""
)
_XML_STATIC_CLOSE_RE = re.compile(r"</([A-Za-z_:][\w:.\-]*)\s*>")
_XML_TEXT_RE = re.compile(r"[^{<]+")
_XML_ATTRIBUTES_RE = re.compile(
    r"""(?:\s*[A-Za-z_:][\w:.\-]*\s*=\s*(?:"[^"]*"|'[^']*'))*(\s*[A-Za-z_:][\w:.\-]*\s*=\s*(?=\{))?"""
)


@dataclass(slots=True)
class Tok:
    """One token to emit: its text and the 1-based line and column in the original script it stands for."""

    kind: str
    text: str
    line: int
    col: int
    nl_before: bool = False  # a line break separates it from the previous token in the original


def js_string(text: str) -> str:
    """A JavaScript string literal for `text` (JSON strings are valid JavaScript, escapes of U+2028/9 included)."""
    quoted: str = _encode_string(text)  # what json.dumps(text, ensure_ascii=False) gives, without its wrapper
    if "\u2028" in quoted or "\u2029" in quoted:
        return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return quoted


class Lexer:
    """Turns an E4X script into tokens of standard JavaScript; XML literals become `__e4x_literal(…)` calls."""

    def __init__(self, source: str, filename: str) -> None:
        self.src = source
        self.filename = filename
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.toks: list[Tok] = []
        self.saw_newline = False
        # For each open bracket: (closer, keyword before `(` if any, line, column).
        self.stack: list[tuple[str, str | None, int, int]] = []
        self.last_closed_head: str | None = None
        # The current XML literal's code pieces (text, line, column) not yet made into a token; None outside one.
        self.scaffold: list[tuple[str, int, int]] | None = None
        self.scaffold_nl = False
        self.scaffold_kind = XML_HEAD
        self.literal_head: Tok | None = None

    # ---- positions and errors -------------------------------------------------------------------------------
    def col(self, pos: int | None = None) -> int:
        return (self.pos if pos is None else pos) - self.line_start + 1

    def error(self, message: str, line: int | None = None, col: int | None = None) -> FerryError:
        where = f"{self.filename}:{line or self.line}:{col or self.col()}"
        return FerryError(SCRIPT_SYNTAX, f"{where}: {message}")

    def advance_to(self, end: int) -> None:
        """Moves to `end`, counting the line breaks in between."""
        src = self.src
        breaks = src.count("\n", self.pos, end)
        if breaks:
            self.line += breaks
            self.line_start = src.rindex("\n", self.pos, end) + 1
            self.saw_newline = True
        self.pos = end

    def push(self, kind: str, text: str, line: int, col: int) -> None:
        scaffold = self.scaffold
        if scaffold is not None:  # inside an XML literal: a piece of its code
            if not scaffold:
                self.scaffold_nl = self.saw_newline
                self.saw_newline = False
            scaffold.append((text, line, col))
            return
        self.toks.append(Tok(kind, text, line, col, self.saw_newline))
        self.saw_newline = False

    def flush_scaffold(self, kind: str) -> Tok:
        """The literal's pieces so far as one token, each piece on its own line (line breaks kept in place)."""
        pieces = self.scaffold
        assert pieces
        text, line, col = pieces[0]
        parts = [text]
        at = line
        for text, piece_line, _ in pieces[1:]:
            if piece_line > at:
                parts.append("\n" * (piece_line - at))
                at = piece_line
            parts.append(text)
        tok = Tok(kind, "".join(parts), line, col, self.scaffold_nl)
        self.toks.append(tok)
        pieces.clear()
        return tok

    # ---- context --------------------------------------------------------------------------------------------
    def expression_expected(self) -> bool:
        """True where `/` starts a regex and `<` an XML literal rather than an operator."""
        if not self.toks:
            return True
        prev = self.toks[-1]
        if prev.kind in _ENDS_OPERAND:
            return False
        if prev.kind == NAME:
            return prev.text in _EXPR_KEYWORDS
        if prev.text == ")":
            return self.last_closed_head is not None  # `if (…) <a/>`, but `f(x) < 2`
        return prev.text not in ("]", "++", "--")

    # ---- main loop ------------------------------------------------------------------------------------------
    def run(self, end_at_brace: bool = False) -> None:
        """Lexes until the end, or (for an XML literal's `{expr}`) until the `}` closing the expression.

        One regular-expression call per line gives that line's lexemes (blanks and comments included); each is told
        by its first character. What the line's lexemes cannot say alone (a regex or a division, an XML literal,
        a template, a block comment, a string running on) is read by hand, and the line is lexed again after it."""
        src = self.src
        n = len(src)
        depth = len(self.stack)
        lexemes = _SCAN_RE.findall
        classes = _FIRST_CHAR
        toks = self.toks
        stack = self.stack
        while True:
            pos = self.pos
            if pos >= n:
                if end_at_brace:
                    raise self.error("'}' expected to close an expression in an XML literal")
                return
            eol = src.find("\n", pos)
            eol = n if eol < 0 else eol + 1
            line, line_start, saw_newline = self.line, self.line_start, self.saw_newline
            for text in lexemes(src, pos, eol):
                kind = classes.get(text[0], _C_OTHER)
                if kind == _C_DOT:  # `.5` is a number, `.`, `..`, `...` punctuation
                    kind = _C_NUM if text[1:2].isdigit() else _C_PUNCT
                if kind in (_C_NAME, _C_NUM):
                    toks.append(Tok(NAME if kind == _C_NAME else NUM, text, line, pos - line_start + 1, saw_newline))
                    saw_newline = False
                    pos += len(text)
                    continue
                if kind == _C_BLANK:
                    pos += len(text)
                    continue
                if kind == _C_NL:
                    pos += len(text)
                    line += 1
                    line_start = pos
                    saw_newline = True
                    continue
                if kind == _C_PUNCT:
                    if text in OPENERS:
                        head = None
                        if text == "(" and toks and toks[-1].kind == NAME and toks[-1].text in _HEAD_KEYWORDS:
                            head = toks[-1].text
                        stack.append((OPENERS[text], head, line, pos - line_start + 1))
                    elif text in CLOSERS:
                        if end_at_brace and text == "}" and len(stack) == depth:
                            self.pos, self.line, self.line_start = pos + 1, line, line_start
                            self.saw_newline = saw_newline
                            return
                        if not stack or stack[-1][0] != text:
                            self.pos, self.line, self.line_start = pos, line, line_start
                            raise self.error(f"unexpected {text!r}")
                        self.last_closed_head = stack.pop()[1]
                    toks.append(Tok(PUNCT, text, line, pos - line_start + 1, saw_newline))
                    saw_newline = False
                    pos += len(text)
                    continue
                if kind == _C_QUOTE and len(text) > 1:
                    toks.append(Tok(STR, text, line, pos - line_start + 1, saw_newline))
                    saw_newline = False
                    pos += len(text)
                    continue
                if kind == _C_SLASH:
                    if text[1:2] == "/":  # a line comment
                        pos += len(text)
                        continue
                    if text == "/*" or self.expression_expected():
                        break  # a block comment, a regular expression: read below
                elif kind == _C_ANGLE:
                    after = src[pos + 1 : pos + 2]
                    if self.expression_expected() and after and (after.isalpha() or after in "_{>"):
                        break  # an XML literal: read below
                elif kind == _C_OTHER and text[0] >= "\u00c0":  # a name in another script
                    toks.append(Tok(NAME, text, line, pos - line_start + 1, saw_newline))
                    saw_newline = False
                    pos += len(text)
                    continue
                else:  # a string running on past its line, a template, or a character no token starts with
                    break
                toks.append(Tok(PUNCT, text, line, pos - line_start + 1, saw_newline))
                saw_newline = False
                pos += len(text)
            else:
                self.pos, self.line, self.line_start, self.saw_newline = pos, line, line_start, saw_newline
                continue
            # Read by hand from `pos`; the rest of its line is lexed again after it.
            self.pos, self.line, self.line_start, self.saw_newline = pos, line, line_start, saw_newline
            first = src[pos]
            if first == "/":
                if src.startswith("/*", pos):
                    close = src.find("*/", pos + 2)
                    if close < 0:
                        raise self.error("unterminated comment")
                    self.advance_to(close + 2)
                else:
                    self.regex()
            elif first == "<":
                self.xml_literal()
            elif first == '"' or first == "'":
                self.string(first)  # across a line break (escaped), or unterminated: string() says where
            elif first == "`":
                self.template()
            else:
                raise self.error(f"unexpected character {first!r}")

    def string(self, quote: str) -> None:
        src = self.src
        start, line, col = self.pos, self.line, self.col()
        i = start + 1
        while True:
            if i >= len(src) or src[i] == "\n":
                raise self.error("unterminated string", line, col)
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c == quote:
                break
            i += 1
        text = src[start : i + 1]
        self.push(STR, text, line, col)
        self.advance_to(i + 1)

    def template(self) -> None:
        """A template literal; each `${…}` is lexed as JavaScript (it may hold E4X) between template pieces."""
        src = self.src
        line, col = self.line, self.col()
        i = self.pos + 1
        first = True
        while True:
            if i >= len(src):
                raise self.error("unterminated template literal", line, col)
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c == "`" or (c == "$" and src.startswith("${", i)):
                closing = c == "`"
                piece = ("" if first else "}") + src[self.pos : i + (1 if closing else 2)]
                kind = (TMPL if first else TMPL_TAIL) if closing else (TMPL_HEAD if first else TMPL_MID)
                self.push(kind, piece, line, col)
                self.advance_to(i + (1 if closing else 2))
                if closing:
                    return
                self.run(end_at_brace=True)
                # The `}` that closed the expression starts the next piece.
                line, col = self.line, self.col() - 1
                first = False
                i = self.pos
                continue
            i += 1

    def regex(self) -> None:
        src = self.src
        start, line, col = self.pos, self.line, self.col()
        i = start + 1
        in_class = False
        while True:
            if i >= len(src) or src[i] == "\n":
                raise self.error("unterminated regular expression", line, col)
            c = src[i]
            if c == "\\":
                i += 2
                continue
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                break
            i += 1
        i += 1
        while i < len(src) and (src[i].isalnum() or src[i] == "_"):
            i += 1
        self.push(REGEX, src[start:i], line, col)
        self.advance_to(i)

    # ---- XML literals ---------------------------------------------------------------------------------------
    def xml_start(self) -> bool:
        nxt = self.src[self.pos + 1 : self.pos + 2]
        return bool(nxt) and (nxt.isalpha() or nxt in "_{>")

    def xml_literal(self) -> None:
        """`<a x={e}>…</a>` becomes `__e4x_literal(shape, ["<a x=", ["a", e], ">…</a>"])`, line breaks kept in
        place; `shape` names the static text, so the runtime parses each literal once."""
        line, col = self.line, self.col()
        self.scaffold_nl = self.saw_newline
        self.saw_newline = False
        self.scaffold = [("__e4x_literal(" + _SHAPE_PLACEHOLDER + ",[", line, col)]
        self.scaffold_kind = XML_HEAD
        self.literal_head = None
        self.text_buf: list[str] = []
        self.text_at = (line, col)
        self.first_part = True
        self.shape: list[str] = []
        if self.src.startswith("<>", self.pos):
            self.emit_text("<__e4x_list>")
            self.advance_to(self.pos + 2)
            self.xml_content("__e4x_list", line, col, list_literal=True)
        else:
            self.xml_element()
        self.flush_text()
        # The runtime keeps each literal's parse under this name: its static text and where the values go.
        # Pieces are joined as they are: the same static text gives the same name however it was cut (values are
        # marked by NUL and a kind, which XML text cannot hold).
        shape = js_string(hashlib.blake2b("".join(self.shape).encode(), digest_size=10).hexdigest())
        self.push(PUNCT, "])", self.line, self.col())
        last = self.flush_scaffold(XML if self.literal_head is None else XML_TAIL)
        head = self.literal_head or last
        head.text = head.text.replace(_SHAPE_PLACEHOLDER, shape, 1)
        self.scaffold = None
        self.last_closed_head = None

    def emit_text(self, text: str) -> None:
        self.shape.append(text)
        if not self.text_buf:
            self.text_at = (self.line, self.col())
        self.text_buf.append(text)

    def flush_text(self) -> None:
        if not self.text_buf:
            return
        text = "".join(self.text_buf)
        self.text_buf = []
        line, col = self.text_at
        # One string per source line (a separating comma with it), so the literal keeps its line breaks where the
        # script had them.
        pieces = text.split("\n")
        last = len(pieces) - 1
        for k, piece in enumerate(pieces):
            chunk = piece if k == last else piece + "\n"
            if not chunk:
                continue
            self.push(STR, js_string(chunk) if self.first_part else "," + js_string(chunk), line, col)
            self.first_part = False
            line, col = line + 1, 1

    def copy_raw(self, end: int) -> None:
        """Static XML text from here to `end`, kept as it is (the runtime parses it)."""
        chunk = self.src[self.pos : end]
        if "\n" in chunk:
            head, _, _ = chunk.partition("\n")
            self.emit_text(head + "\n")
            self.flush_text()
            self.advance_to(self.pos + len(head) + 1)
            self.copy_raw(end)
            return
        if chunk:
            self.emit_text(chunk)
        self.advance_to(end)

    def embedded(self, kind: str) -> None:
        """`{expr}` inside a literal: lexed as JavaScript (it may hold E4X), passed as [kind, value]."""
        self.flush_text()
        line, col = self.line, self.col()
        self.push(PUNCT, ('["' if self.first_part else ',["') + kind + '",(', line, col)
        self.first_part = False
        tok = self.flush_scaffold(self.scaffold_kind)
        if self.literal_head is None:
            self.literal_head = tok
        self.advance_to(self.pos + 1)
        self.shape.append("\x00" + kind)
        saved = (self.text_buf, self.text_at, self.first_part, self.shape, self.scaffold, self.literal_head)
        self.scaffold = None  # the expression's own tokens (a literal in it has its own pieces)
        before = len(self.toks)
        self.run(end_at_brace=True)
        if len(self.toks) == before:
            raise self.error("empty expression {} in an XML literal", line, col)
        self.text_buf, self.text_at, self.first_part, self.shape, self.scaffold, self.literal_head = saved
        self.scaffold_kind = XML_MID
        self.push(PUNCT, ")]", self.line, self.col())
        self.first_part = False

    def xml_name(self, kind: str = "n") -> str | None:
        """A tag or attribute name, or `{expr}` (computed: returns None)."""
        if self.src.startswith("{", self.pos):
            self.embedded(kind)
            return None
        m = _XML_NAME_RE.match(self.src, self.pos)
        if m is None:
            raise self.error("XML name expected")
        self.emit_text(m.group())
        self.advance_to(m.end())
        return m.group()

    def xml_space(self) -> None:
        m = _XML_SPACE_RE.match(self.src, self.pos)
        if m:
            self.copy_raw(m.end())

    def xml_element(self) -> None:
        line, col = self.line, self.col()
        whole = _XML_STATIC_TAG_RE.match(self.src, self.pos)
        if whole is not None:
            # A start tag without {expressions}: copied in one piece.
            self.copy_raw(whole.end())
            if whole.group(2) != "/":
                self.xml_content(whole.group(1), line, col)
            return
        self.emit_text("<")
        self.advance_to(self.pos + 1)
        name = self.xml_name()
        src = self.src
        attributes = _XML_ATTRIBUTES_RE.match
        while True:
            # Quoted attributes, and the `name=` of an {expression} value, in one step (what the steps below would
            # copy one piece at a time; anything else, errors included, is left to them).
            run = attributes(src, self.pos)
            if run is not None and run.end() > self.pos:
                self.copy_raw(run.end())
                if run.group(1) is not None:
                    self.embedded("a")
                    continue
            self.xml_space()
            if self.pos >= len(src):
                raise self.error("unterminated XML tag", line, col)
            if src.startswith("/>", self.pos):
                self.emit_text("/>")
                self.advance_to(self.pos + 2)
                return
            if src[self.pos] == ">":
                self.emit_text(">")
                self.advance_to(self.pos + 1)
                self.xml_content(name, line, col)
                return
            self.xml_name()
            self.xml_space()
            if not src.startswith("=", self.pos):
                raise self.error("'=' expected after an XML attribute name")
            self.emit_text("=")
            self.advance_to(self.pos + 1)
            self.xml_space()
            q = src[self.pos : self.pos + 1]
            if q == "{":
                self.embedded("a")
            elif q in ('"', "'"):
                end = src.find(q, self.pos + 1)
                if end < 0:
                    raise self.error("unterminated XML attribute value")
                self.copy_raw(end + 1)
            else:
                raise self.error("XML attribute value expected (quoted, or {expression})")

    def xml_content(self, name: str | None, line: int, col: int, list_literal: bool = False) -> None:
        src = self.src
        while True:
            if self.pos >= len(src):
                raise self.error(f"XML element <{name or '{…}'}> is not closed", line, col)
            c = src[self.pos]
            if c == "{":
                self.embedded("c")
            elif src.startswith("<!--", self.pos):
                end = src.find("-->", self.pos)
                if end < 0:
                    raise self.error("unterminated XML comment")
                self.copy_raw(end + 3)
            elif src.startswith("<![CDATA[", self.pos):
                end = src.find("]]>", self.pos)
                if end < 0:
                    raise self.error("unterminated CDATA section")
                self.copy_raw(end + 3)
            elif src.startswith("<?", self.pos):
                end = src.find("?>", self.pos)
                if end < 0:
                    raise self.error("unterminated processing instruction")
                self.copy_raw(end + 2)
            elif src.startswith("</", self.pos):
                close_line, close_col = self.line, self.col()
                if list_literal:
                    if not src.startswith("</>", self.pos):
                        raise self.error("'</>' expected to close an XML list literal")
                    self.emit_text("</__e4x_list>")
                    self.advance_to(self.pos + 3)
                    return
                whole = _XML_STATIC_CLOSE_RE.match(src, self.pos)
                if whole is not None and whole.group(1) == name:
                    self.copy_raw(whole.end())
                    return
                self.emit_text("</")
                self.advance_to(self.pos + 2)
                closing = self.xml_name()
                if name is not None and closing is not None and closing != name:
                    raise self.error(f"</{closing}> does not close <{name}>", close_line, close_col)
                self.xml_space()
                if not src.startswith(">", self.pos):
                    raise self.error("'>' expected in an XML closing tag")
                self.emit_text(">")
                self.advance_to(self.pos + 1)
                return
            elif c == "<":
                self.xml_element()
            else:
                m = _XML_TEXT_RE.match(src, self.pos)
                self.copy_raw(m.end() if m else len(src))


def tokenize(source: str, filename: str) -> list[Tok]:
    """Tokens of standard JavaScript for an E4X script (XML literals already turned into runtime calls)."""
    lexer = Lexer(source, filename)
    lexer.run()
    if lexer.stack:
        closer, _, line, col = lexer.stack[-1]
        raise lexer.error(f"{closer!r} expected to close the bracket opened here", line, col)
    return lexer.toks
