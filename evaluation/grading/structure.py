"""Parse a normalised maths answer into a small tree: tuples, intervals, sets, lists, matrices, relations."""

import re
from dataclasses import dataclass

from evaluation.grading.normalize import MAX_NESTING, strip_unit_words


@dataclass(frozen=True)
class Leaf:
    """A scalar expression; `unit` is "%" or "deg" when the answer carried one."""

    latex: str
    unit: str = ""

    @property
    def key(self) -> str:
        return self.latex.replace(" ", "")


@dataclass(frozen=True)
class Text:
    """A word answer ("Evelyn", "even"), compared case- and space-insensitively."""

    value: str


@dataclass(frozen=True)
class Seq:
    """Ordered items in brackets: a tuple "(1,2)", an interval "[1,2)" or a vector."""

    items: tuple["Node", ...]
    brackets: str  # opening + closing bracket, e.g. "[)"


@dataclass(frozen=True)
class Bag:
    """Unordered items: a set "\\{1,2\\}", a bare list "1, 2", a union, a "\\pm" pair."""

    items: tuple["Node", ...]
    bare: bool = True


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple["Node", ...], ...]


@dataclass(frozen=True)
class Relation:
    """lhs op rhs with op in "=", "<", "\\leq", "\\neq", "\\in" (">" and "\\geq" are flipped)."""

    lhs: "Node"
    op: str
    rhs: "Node"


Node = Leaf | Text | Seq | Bag | Matrix | Relation

_OPENERS, _CLOSERS = "([{", ")]}"
_LIST_SEP_RE = re.compile(r",|;|\\cup(?![A-Za-z])|\s(?:and|or)\s|(?<=\))\s*(?:and|or)\s*(?=\()")
_RELATION_RE = re.compile(r"\\leq|\\geq|\\neq|\\approx|\\in(?![A-Za-z])|<|>|=")
_FLIPPED = {">": "<", "\\geq": "\\leq"}
_NEGATED = {"<": ">", ">": "<", "\\leq": "\\geq", "\\geq": "\\leq"}
_SAME_AS_EQUALS = {"\\approx"}
_MATRIX_RE = re.compile(r"\\begin\{([pbB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.DOTALL)
_IDENTIFIER_RE = re.compile(  # x, k, a_1, m_{\max}, f(x), \theta
    r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_(?:\w|\{[^{}]*\}))?(?:'|\^\{?\*\}?)?(?:\([^()]*\))?"
)
_TEXT_RE = re.compile(r"[A-Za-z][A-Za-z' -]*")
# A label an answer may be written after: names, a tuple of names, |AB|, V_1:V_2, \frac{NO}{BO}; no digits
# (outside subscripts) and no arithmetic, so "2x + z = 1" or "7 = 11a+c" are never labels.
_NAME = r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_(?:\w|\{[^{}]*\}))?'?"
_LABEL_RE = re.compile(
    rf"(?:{_NAME})+(?:\([^()]*\))?|\|(?:{_NAME})+\||(?:{_NAME})+(?::(?:{_NAME})+)+"
    rf"|\\frac\{{(?:{_NAME})+\}}\{{(?:{_NAME})+\}}"
)
_ASSIGNMENT_RE = re.compile(rf"\s*{_NAME}\s*=\s*([^=]+)")


def _depth_scan(text: str) -> list[int]:
    """Bracket depth before each character; "\\{" and "\\}" count as brackets, other escapes do not."""
    depths, depth, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        width = 2 if ch == "\\" and text[i + 1 : i + 2] in ("{", "}") else 1
        if width == 2:
            ch = text[i + 1]
        if ch in _CLOSERS:
            depth -= 1
        depths.extend([depth + (ch in _CLOSERS)] * width)
        if ch in _OPENERS:
            depth += 1
        i += width
    return depths


def split_top(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """Split on separators at bracket depth 0; returns [(part, separator-after-it)], last separator ""."""
    depths = _depth_scan(text)
    parts, start = [], 0
    for m in pattern.finditer(text):
        if depths[m.start()] == 0 and m.start() >= start:
            parts.append((text[start : m.start()].strip(), m.group(0).strip()))
            start = m.end()
    parts.append((text[start:].strip(), ""))
    return parts


def _enclosing(text: str) -> str | None:
    """The bracket pair ("()", "[)", "\\{\\}"...) if one pair encloses the whole string."""
    if len(text) < 2:
        return None
    depths = _depth_scan(text)
    if text.startswith("\\{") and text.endswith("\\}"):
        pair, inner = "{}", range(2, len(text) - 2)
    elif text[0] in "([" and text[-1] in ")]":
        pair, inner = text[0] + text[-1], range(1, len(text) - 1)
    else:
        return None
    return pair if all(depths[i] >= 1 for i in inner) else None


def _interval(chain: list[tuple[str, str]], depth: int) -> Node | None:
    """'1 < x \\leq 2' -> (1,2]; 'x > 5' -> (5,\\infty) ; None unless the chain bounds one variable."""
    texts = [part for part, _ in chain]
    ops = [op for _, op in chain[:-1]]
    if all(op in _FLIPPED for op in ops):  # "5 > x \geq 1" reads as "1 \leq x < 5"
        texts, ops = texts[::-1], [_FLIPPED[op] for op in reversed(ops)]
    if not all(op in ("<", "\\leq") for op in ops):
        return None
    if len(texts) == 3 and _IDENTIFIER_RE.fullmatch(texts[1]):
        low, high = texts[0], texts[2]
    elif len(texts) == 2 and _IDENTIFIER_RE.fullmatch(texts[1]):
        low, high, ops = texts[0], "\\infty", [ops[0], "<"]
    elif len(texts) == 2 and _IDENTIFIER_RE.fullmatch(texts[0]):
        low, high, ops = "-\\infty", texts[1], ["<", ops[0]]
    else:
        return None
    brackets = ("[" if ops[0] == "\\leq" else "(") + ("]" if ops[-1] == "\\leq" else ")")
    return Seq((parse_answer(low, depth + 1), parse_answer(high, depth + 1)), brackets)


def _relation(text: str, depth: int) -> Node | None:
    chain = split_top(text, _RELATION_RE)
    if len(chain) < 2 or any(not part for part, _ in chain):
        return None
    approx_at = next((i for i, (_, op) in enumerate(chain) if op == "\\approx"), None)
    if approx_at is not None and approx_at > 0:  # "x = 1/3 \approx 0.33": the exact value is the answer
        chain = [*chain[:approx_at], (chain[approx_at][0], "")]
    ops = ["=" if op in _SAME_AS_EQUALS else op for _, op in chain[:-1]]
    if all(op == "=" for op in ops):  # "x = 2 \cdot 3 = 6": the first and last members
        return Relation(parse_answer(chain[0][0], depth + 1), "=", parse_answer(chain[-1][0], depth + 1))
    interval = _interval(chain, depth)
    if interval is not None or len(chain) != 2:
        return interval
    lhs, rhs, op = chain[0][0], chain[1][0], ops[0]
    if op in _NEGATED:  # "-x > -1" is "x < 1": a negated variable alone on one side
        if lhs.startswith("-") and _IDENTIFIER_RE.fullmatch(lhs[1:].strip()):
            return _relation(f"{lhs[1:].strip()} {_NEGATED[op]} {_negated(rhs)}", depth + 1)
        if rhs.startswith("-") and _IDENTIFIER_RE.fullmatch(rhs[1:].strip()):
            return _relation(f"{_negated(lhs)} {_NEGATED[op]} {rhs[1:].strip()}", depth + 1)
    if op in _FLIPPED:
        lhs, rhs, op = rhs, lhs, _FLIPPED[op]
    return Relation(parse_answer(lhs, depth + 1), op, parse_answer(rhs, depth + 1))


def _matrix(body: str, depth: int) -> Matrix:
    rows = [row for row in re.split(r"\\\\", body) if row.strip()]
    return Matrix(tuple(tuple(parse_answer(cell, depth + 1) for cell in row.split("&")) for row in rows))


def _leaf(text: str) -> Node:
    if _TEXT_RE.fullmatch(text) and re.search(r"[A-Za-z]{3}", text):
        return Text(" ".join(text.casefold().split()))
    text = strip_unit_words(text)  # "x = 5 inches": units after a relation's side
    for suffix, unit in (("\\%", "%"), ("^\\circ", "deg")):
        if text.endswith(suffix) and len(text) > len(suffix):
            return Leaf(text[: -len(suffix)].strip(), unit)
    return Leaf(text)


def make_bag(items: list[Node], bare: bool) -> Bag:
    """A Bag with nested bare lists ("1 \\pm 2" inside a set) flattened into it.

    A list of tuples is a set of solutions: a tuple written twice counts once. Repeated scalars still
    count (a double root), so "-2, -2" is not "-2".
    """
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Bag) and item.bare else [item])
    if flat and all(isinstance(item, Seq) and item.brackets == "()" for item in flat):
        flat = list(dict.fromkeys(flat))
    return Bag(tuple(flat), bare)


def _assignment_groups(text: str, depth: int) -> Bag | None:
    """"p=5,q=2;p=7,q=2" -> the solutions (5,2), (7,2); None unless every ";" group is such a list."""
    groups = [part for part, _ in split_top(text, re.compile(";"))]
    if len(groups) < 2:
        return None
    tuples: list[Node] = []
    for group in groups:
        sides = [_ASSIGNMENT_RE.fullmatch(part) for part, _ in split_top(group, re.compile(","))]
        if len(sides) < 2 or not all(sides):
            return None
        tuples.append(Seq(tuple(parse_answer(m.group(1), depth + 1) for m in sides if m), "()"))
    return make_bag(tuples, bare=True)


def parse_answer(text: str, depth: int = 0) -> Node:
    """Tree of a normalised answer; anything unrecognised stays a Leaf for numeric/symbolic comparison."""
    text = text.strip()
    if depth > MAX_NESTING:
        return Leaf(text)
    if text.startswith("\\begin"):
        m = _MATRIX_RE.fullmatch(text)
        if m:
            return _matrix(m.group(2), depth)
    if text == "\\emptyset":
        return Bag((), bare=False)
    groups = _assignment_groups(text, depth)
    if groups is not None:
        return groups
    parts = [part for part, _ in split_top(text, _LIST_SEP_RE) if part]
    if len(parts) > 1:
        return make_bag([parse_answer(part, depth + 1) for part in parts], bare=True)
    text = parts[0] if parts else ""
    pair = _enclosing(text)
    if pair == "{}":
        inner = [part for part, _ in split_top(text[2:-2], _LIST_SEP_RE) if part]
        return make_bag([parse_answer(part, depth + 1) for part in inner], bare=False)
    if pair:
        items = [part for part, _ in split_top(text[1:-1], re.compile(","))]
        if len(items) == 1:  # "(0;-2;6)": semicolons separate the coordinates
            items = [part for part, _ in split_top(text[1:-1], re.compile(";"))]
        if len(items) == 1 and pair in ("()", "[]"):
            return parse_answer(items[0], depth + 1)
        return Seq(tuple(parse_answer(item, depth + 1) for item in items), pair)
    relation = _relation(text, depth)
    if relation is not None:
        return relation
    if "\\pm" in text:
        left, _, right = text.partition("\\pm")
        both = [parse_answer(f"{left}{sign}{right}", depth + 1) for sign in "+-"]
        return make_bag(both, bare=True)
    return _leaf(text)


def _negated(text: str) -> str:
    return text[1:] if re.fullmatch(r"-[\w.]+", text) else f"-({text})"


def is_label(node: Node) -> bool:
    """A name an answer may follow: an identifier, a tuple of them, |AB|, V_1:V_2, AB, \\frac{NO}{BO}."""
    if isinstance(node, Seq):
        return node.brackets == "()" and all(is_identifier(item) for item in node.items)
    if isinstance(node, Text):
        return " " not in node.value
    return isinstance(node, Leaf) and not node.unit and bool(_LABEL_RE.fullmatch(node.key))


def is_identifier(node: Node) -> bool:
    """A name that an answer may be assigned to: x, k, a_1, f(x), m_{\\max}, \\theta."""
    return isinstance(node, Leaf) and not node.unit and bool(_IDENTIFIER_RE.fullmatch(node.key))
