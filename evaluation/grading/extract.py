"""Find the final answer in a model response (maths): last boxed (or last run of boxes), then answer
phrases, then the last math span or number."""

import re
from dataclasses import dataclass

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_PHRASE_RE = re.compile(r"(?:final answer|the answer)\s*(?:is|:)\s*", re.IGNORECASE)
_FINAL_PHRASE_RE = re.compile(r"final answer\s*(?:is|:)\s*", re.IGNORECASE)
_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}\b")  # a word, not a LaTeX command
# Numbers: "10,000" (thousands groups), "2,74" (a decimal comma: not three digits after it, not in a list
# "1,2,3"), "3.5", "7/8".
_NUMBER_RE = re.compile(
    r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+,(?:\d{1,2}|\d{4,})(?![\d,])|-?\d+(?:\.\d+)?(?:/\d+)?"
)
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# Math spans: display ones may span lines, inline ones may not (an escaped "\$" inside is a dollar sign).
_SPAN_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|(?<![\\$])\$((?:\\\$|[^$\n])+?)\$|\\\(([^\n]+?)\\\)", re.DOTALL
)
# An inline span whose delimiters stand alone on their lines ("$ \n 9 \n $"): inline maths cannot break
# lines, so this is no answer, and the numbers inside it are not read as bare numbers either.
_BROKEN_SPAN_RE = re.compile(
    r"(?<![\\$])\$(?!\$)[ \t]*\n[^$]{0,1000}?\n[ \t]*\$(?!\$)|\\\([ \t]*\n.{0,1000}?\n[ \t]*\\\)", re.DOTALL
)
# What may stand between two boxes of one answer ("\boxed{1} and \boxed{2}", "\boxed{(2,2)} \quad \text{and}
# \quad \boxed{(6,2)}", "\boxed{1} papers and \boxed{2} bins"): at most three unit words, then one
# connector, then at most a label ("y_2 ="). Anything else ("\boxed{1}, then \boxed{2}") separates attempts.
_GAP_NOISE_RE = re.compile(
    r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}|\\q?quad|\\[,;:! ]|\\[()\[\]]|\$|~|\([a-z]\)"
)
_PART_LABEL_RE = re.compile(r"\b(?:for\s+)?(?:part\s+)?\((?:[a-z]|i{1,3}|iv)\)")  # "for part (a)", "(ii)"
# A divider of two or more of one symbol ("++++", "---", "||"); a single operator could be arithmetic.
_DIVIDER_RE = re.compile(r"\s*([^\w\s.{}])\1+\s*")
_GAP_RE = re.compile(
    r"\s*(?:[A-Za-z]+\s+){0,3}?(?:,|;|and|or|&)?\s*(?:and|or)?\s*(?:[A-Za-z](?:_\{?\w+\}?)?\s*=)?\s*"
)


@dataclass(frozen=True)
class Extraction:
    """An extracted answer and how it was found ("boxed", "phrase", "last_number", "letter_line"...)."""

    answer: str | None
    method: str


def brace_matches(text: str) -> dict[int, int]:
    """Map each unescaped "{" to its matching "}" in one linear pass (unmatched ones are left out)."""
    matches: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2  # "\{" and "\}" are literal braces, not groups
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            matches[stack.pop()] = i
        i += 1
    return matches


def boxed_contents(text: str) -> list[str]:
    """Contents of every complete \\boxed{...} / \\fbox{...} / "\\boxed 5", in order of appearance."""
    starts = [m.end() for m in _BOX_RE.finditer(text)]
    if not starts:
        return []
    matches = brace_matches(text)
    contents = []
    for start in starts:
        rest = text[start:]
        stripped = rest.lstrip()
        if stripped.startswith("{"):
            open_at = start + len(rest) - len(stripped)
            close_at = matches.get(open_at)
            if close_at is not None:  # an unclosed box (truncated output) is skipped
                contents.append(text[open_at + 1 : close_at].strip())
        elif rest[:1] == " ":
            word = re.match(r"\s*([^\s$]+)", rest)
            if word:
                contents.append(word.group(1))
    return contents


def _boxes_with_ends(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete box."""
    matches = brace_matches(text)
    found = []
    for m in _BOX_RE.finditer(text):
        rest = text[m.end() :]
        stripped = rest.lstrip()
        open_at = m.end() + len(rest) - len(stripped)
        close_at = matches.get(open_at) if stripped.startswith("{") else None
        if close_at is not None:
            start = m.start() - (text[m.start() - 1 : m.start()] == "\\")  # "\\boxed" from an escaped string
            found.append((start, close_at + 1, text[open_at + 1 : close_at].strip()))
    return found


def _joins_one_answer(gap: str) -> bool:
    """Whether the text between two boxes only lists them (a connector, units, a label)."""
    words = _GAP_NOISE_RE.sub(lambda m: f" {m.group(1) or ''} ", gap)
    words = _PART_LABEL_RE.sub(" ", words)
    if _DIVIDER_RE.fullmatch(words):
        return True
    connector = re.search(r",|;|\band\b|\bor\b", words)
    return bool(connector or not words.strip()) and bool(_GAP_RE.fullmatch(words)) and "\n\n" not in gap


def last_boxes(text: str) -> str | None:
    """The last box, joined with the boxes before it that only list further parts of the same answer."""
    boxes = _boxes_with_ends(text)
    if not boxes:
        return last_boxed(text)
    run = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        if not _joins_one_answer(text[box[1] : run[0][0]]):
            break
        run.insert(0, box)
    return ", ".join(content for _, _, content in run) if len(run) > 1 else last_boxed(text)


def last_boxed(text: str) -> str | None:
    """Content of the last complete box, or None."""
    contents = boxed_contents(text)
    return contents[-1] if contents else None


def _after_phrase(rest: str) -> str:
    """The answer that follows "the answer is": the math span(s) it starts with, else the sentence."""
    rest = re.sub(r'^\\?"', "", rest.lstrip())  # a quoted answer: "$12$ and $13$"
    spans = list(_SPAN_RE.finditer(rest, 0, 4000))
    if spans and spans[0].start() == 0:
        return _span_run(rest, spans, forward=True)
    for left, right in _DELIMITERS:
        if rest.startswith(left):
            end = rest.find(right, len(left))
            if end > 0:
                return rest[len(left) : end].strip()
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.\s|\. ?I hope", line, maxsplit=1)[0].strip().rstrip(".").strip()
    if re.match(r"(?:The|the|Our|our)\s+[a-z]", line):  # "The largest $n$ is 34": the value at the end
        value = re.search(r"\b(?:is|are|equals|=)\s+(.+)$", line)
        if value:
            return value.group(1).strip().strip("$").strip()
    if len(_WORD_RE.findall(line)) >= 3:  # a sentence ("Tom reads 17 pages"): its one number or last span
        spans = list(_SPAN_RE.finditer(line))
        numbers = _NUMBER_RE.findall(line)
        if spans:
            return next(g for g in spans[-1].groups() if g is not None).strip()
        if len(numbers) == 1:
            return numbers[0]
    return line


def _span_run(text: str, spans: list[re.Match[str]], forward: bool) -> str:
    """The first (forward) or last span joined with its neighbours of one answer: "$1$ and $2$" -> "1, 2"."""
    ordered = spans if forward else spans[::-1]
    run = [ordered[0]]
    for span in ordered[1:]:
        gap = text[run[-1].end() : span.start()] if forward else text[span.end() : run[-1].start()]
        if not _joins_one_answer(gap):
            break
        run.append(span)
    run.sort(key=lambda span: span.start())
    return ", ".join(next(g for g in span.groups() if g is not None).strip() for span in run)


def _final_phrase_after_boxes(text: str) -> str | None:
    """A "Final Answer: …" written after the last box restates (or corrects) it: that statement wins."""
    boxes = _boxes_with_ends(text)
    phrases = list(_FINAL_PHRASE_RE.finditer(text))
    if not boxes or not phrases or phrases[-1].start() < boxes[-1][1]:
        return None
    answer = _after_phrase(text[phrases[-1].end() :])
    return answer if re.search(r"\d", answer) else None


def extract_math(text: str) -> Extraction:
    """Maths answer: last \\boxed{}, else the last "final answer is"/"the answer is", else the last number."""
    restated = _final_phrase_after_boxes(text)
    if restated:
        return Extraction(restated, "phrase")
    boxed = last_boxes(text)
    if boxed:
        return Extraction(boxed, "boxed")
    phrases = list(_PHRASE_RE.finditer(text))
    if phrases:
        answer = _after_phrase(text[phrases[-1].end() :])
        if answer:
            return Extraction(answer, "phrase")
    spans = list(_SPAN_RE.finditer(text))
    broken = [(m.start(), m.end()) for m in _BROKEN_SPAN_RE.finditer(text)]
    numbers = [n for n in _NUMBER_RE.finditer(text) if not any(a <= n.start() < b for a, b in broken)]
    if spans and not (numbers and numbers[-1].start() >= spans[-1].end()):
        answer = _span_run(text, spans, forward=False)
        if answer.strip(", "):
            return Extraction(answer, "last_math")
    if numbers:
        return Extraction(numbers[-1].group(0), "last_number")
    return Extraction(None, "none")
