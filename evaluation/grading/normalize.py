"""String normalisation of an extracted maths answer (before structural parsing)."""

import re

from evaluation.grading.extract import brace_matches

# Longer answers are only compared as exact strings: keeps the in-process path linear and cheap.
MAX_ANSWER_CHARS = 4000
MAX_NESTING = 40

_UNICODE = {
    "π": "\\pi ",
    "√": "\\sqrt",
    "\u2212": "-",
    "\u2013": "-",
    "\u00d7": "\\times ",
    "·": "\\cdot ",
    "÷": "\\div ",
    "≤": "\\leq ",
    "≥": "\\geq ",
    "≠": "\\neq ",
    "∞": "\\infty ",
    "°": "^\\circ ",
    "∈": "\\in ",
    "\u222a": "\\cup ",
    "∅": "\\emptyset ",
    "±": "\\pm ",
    "\u00a0": " ",
}
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        )
    )
}
_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])\s*")
_TEXT_COMMANDS = (
    "text",
    "textbf",
    "textit",
    "textrm",
    "mbox",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "boldsymbol",
    "bm",
    "operatorname",
    "textnormal",
    "displaystyle",
)
_TEXT_RE = re.compile(r"\\(?:" + "|".join(_TEXT_COMMANDS) + r")(?![A-Za-z])\s*")
# A unit written as text after a quantity: "6.5 \mathrm{~m}", "5\text{ cm}^2" (lone letters count here).
_TEXT_UNIT_RE = re.compile(
    r"(?<=[\d}])\s*\\(?:text|textrm|mathrm|mbox)\s*\{\s*~?\s*[A-Za-z][A-Za-z\s/^.~-]*\}(?:\^\{?\d\}?)?\s*\.?\s*$"
)
_SUBSTITUTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\s+"), " "),
    (re.compile(r"(\d),\\!\s*(?=\d{3})"), r"\1"),  # "10,\!080" is a thousands separator
    (re.compile(r"(?<!\\)\\[!,;:> ]|\\q?quad(?![A-Za-z])|~"), " "),  # not the "\\" row break
    (re.compile(r"\\(?:left|right)\s*\.|\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])"), ""),
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![A-Za-z])"), r"\\binom"),
    (re.compile(r"\\(?:leqslant|leq|le)(?![A-Za-z])|<="), r"\\leq "),
    (re.compile(r"\\(?:geqslant|geq|ge)(?![A-Za-z])|>="), r"\\geq "),
    (re.compile(r"\\(?:neq|ne)(?![A-Za-z])|!="), r"\\neq "),
    (re.compile(r"\\lt(?![A-Za-z])"), "<"),
    (re.compile(r"\\gt(?![A-Za-z])"), ">"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![A-Za-z])"), r"\\emptyset "),
    (re.compile(r"\\mathbb\s*\{?R\}?"), r"(-\\infty,\\infty)"),
    (re.compile(r"\\infin(?:ity)?(?![A-Za-z])|\b(?:infinity|inf)\b"), r"\\infty "),
    (re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])"), r"\\pi "),
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|\\degree(?![A-Za-z])"), r"^\\circ "),
    (re.compile(r"\s*\b(?:degrees?|deg)\s*$"), r"^\\circ"),
    (re.compile(r"\\?%|\s*\bpercent\s*$"), r"\\%"),
    (re.compile(r"\\[()\[\]]"), ""),
    (re.compile(r"\^\{(\w)\}"), r"^\1"),
    (re.compile(r"_\{(\w)\}"), r"_\1"),
    (re.compile(r"\s+"), " "),
]
_UNIT_WORD_RE = re.compile(r"[A-Za-z]{2,}(?:\^\d)?")  # lone letters are never units: "a+b" keeps its "a"
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BARE_ARG_RE = re.compile(r"\\(frac|sqrt)(?![A-Za-z])")
# "1000,99" / "0,111": a decimal comma, read as such only against a decimal point on the other side;
# a comma before exactly three digits is a thousands separator ("1,000"), never a decimal comma.
_DECIMAL_COMMA_RE = re.compile(r"[+-]?(?:0,\d+|\d+,(?!\d{3}$)\d+)")
_DECIMAL_POINT_RE = re.compile(r"[+-]?\d*\.\d+")


def unwrap_commands(text: str, commands: re.Pattern[str] = _TEXT_RE) -> str:
    """Replace \\text{X}, \\mathrm{X}... (or other `commands`) by X in one pass; a bare command is dropped."""
    matches = brace_matches(text)
    drop: set[int] = set()
    for m in commands.finditer(text):
        drop.update(range(m.start(), m.end()))
        close_at = matches.get(m.end())
        if close_at is not None:
            drop.update((m.end(), close_at))
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def _token_end(text: str, i: int, matches: dict[int, int]) -> int | None:
    """End of the LaTeX argument starting at i: a {group}, a \\command or one character."""
    if text[i] == "{":
        close_at = matches.get(i)
        return None if close_at is None else close_at + 1
    if text[i] == "\\":
        m = re.match(r"\\[A-Za-z]+", text[i:])
        return None if m is None else i + m.end()
    return i + 1


def brace_arguments(text: str) -> str:
    """Give \\frac and \\sqrt braced arguments in one pass: "\\frac12" -> "\\frac{1}{2}"."""
    matches = brace_matches(text)
    out: list[str] = []
    expect: dict[int, int] = {}  # position where an argument starts -> arguments still expected after it
    i = 0
    while i < len(text):
        if i in expect:
            more = expect.pop(i)
            while i < len(text) and text[i] == " ":
                i += 1
            end = _token_end(text, i, matches) if i < len(text) else None
            if end is None:
                continue
            if more:
                expect[end] = more - 1
            if text[i] != "{":
                out.append("{" + text[i:end] + "}")
                i = end
                continue
        m = _BARE_ARG_RE.match(text, i)
        if m is None:
            out.append(text[i])
            i += 1
            continue
        out.append(m.group(0))
        i = m.end()
        if m.group(1) == "sqrt" and text[i : i + 1] == "[" and "]" in text[i:]:
            close_at = text.index("]", i)
            out.append(text[i : close_at + 1])
            i = close_at + 1
        expect[i] = 1 if m.group(1) == "frac" else 0
    return "".join(out)


def strip_unit_words(text: str) -> str:
    """Drop trailing unit words ("5 cm", "864 inches^2") after a quantity that has no letters of its own."""
    words = text.split(" ")
    keep = len(words)
    while keep > 1 and _UNIT_WORD_RE.fullmatch(words[keep - 1]):
        keep -= 1
    quantity = " ".join(words[:keep])
    if keep == len(words) or not re.search(r"[\d}]$", quantity):
        return text
    return text if re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", quantity)) else quantity


def nesting_depth(text: str) -> int:
    """Deepest bracket nesting of ( [ { (a linear scan)."""
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def is_oversized(text: str) -> bool:
    """Too long or too deeply nested to parse safely in-process."""
    return len(text) > MAX_ANSWER_CHARS or nesting_depth(text) > MAX_NESTING


def read_decimal_comma(text: str, other: str) -> str:
    """`text` with its decimal comma as a point when `other` is a decimal ("1000,99" vs "1000.99")."""
    bare, other_bare = text.strip().strip("$").strip(), other.strip().strip("$").strip()
    if _DECIMAL_COMMA_RE.fullmatch(bare) and _DECIMAL_POINT_RE.fullmatch(other_bare):
        return bare.replace(",", ".")
    return text


def _strip_grouping_braces(text: str) -> str:
    """"{1,3}" -> "1,3": unescaped braces around a whole answer only group it (a set is "\\{1,3\\}")."""
    while text.startswith("{") and brace_matches(text).get(0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def normalize(answer: str) -> str:
    """Canonical spelling of a maths answer; keeps meaning (brackets, order, signs) intact."""
    text = answer.strip()
    if is_oversized(text):
        return text
    for old, new in _UNICODE.items():
        text = text.replace(old, new)
    text = unwrap_commands(text, _BOX_RE).replace("\\$", "").replace("$", "")
    text = unwrap_commands(_TEXT_UNIT_RE.sub("", text))
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    text = _strip_grouping_braces(brace_arguments(text).strip().rstrip(".").strip())
    text = re.sub(r"^(?:=|\\approx)\s*", "", text)  # "= 5" left over from "x = 5" extraction
    text = strip_unit_words(text)
    text = _NUMBER_WORDS.get(text.casefold(), text)
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
    return text
