"""Agreement with the peers' own test cases: Math-Verify's tests and the Qwen2.5-Math grader's pairs.

Reads a local checkout of each peer repository (never copied into this one), collects the
(gold, pred, expected) cases from their test files with `ast`/`tokenize`, and grades every case with
our grader and with math-verify (as its tests call it: `parse` both sides, then `verify` with the
case's `precision`). Prints agreement with the expected verdicts per category, every disagreement
(with its category, and whether it is a wrong "equal"), and the throughput ratio on these cases.

    .venv/bin/python bench/bench_peer_cases.py --math-verify /work/peers/math-verify \
        [--qwen /work/peers/qwen25-math]

Denominators: "plain" cases are those whose two sides are answers (after removing one outer `$…$`
and one outer `\\boxed{}`, no `$`, `\\boxed`, `\\(`, `\\[`, newline or run of three words is left);
we grade them as given. "response" cases need extraction on one side or both: a side that is more
than an answer goes through `extract_answer` first. Cases whose test passes a non-default
math-verify option other than precision (`strict=False`, `allow_set_relation_comp=True`) test that
option, not a verdict, and are left out; Qwen pairs carry no verdict of their own and are labelled
only where a Math-Verify case has the same two strings (the others are listed, unlabelled).
"""

import argparse
import ast
import io
import logging
import re
import time
import tokenize
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluation.grading import GradeConfig, GradePair, GradingPool, PoolConfig, extract_answer, grade_batch

DEFAULT_PRECISION = 6  # math-verify's float_rounding default, used by its tests unless a case says otherwise
MATCH_TYPES = ("latex", "expr")


@dataclass(frozen=True)
class Case:
    source: str  # "file.py::test_function"
    gold: str
    pred: str
    expected: bool | None  # None: the peer gives no verdict
    precision: int = DEFAULT_PRECISION
    match_types: tuple[str, ...] = MATCH_TYPES

    @property
    def is_response(self) -> bool:
        return _needs_extraction(self.gold) or _needs_extraction(self.pred)


_OUTER_RE = re.compile(r"^\s*(\$\$|\$|\\\[|\\\()(.*?)(\$\$|\$|\\\]|\\\))\s*\.?\s*$", re.DOTALL)
_PROSE_RE = re.compile(r"[A-Za-z']{2,}[ ,]+[A-Za-z']{2,}[ ,]+[A-Za-z']{2,}")


def _needs_extraction(text: str) -> bool:
    """Whether `text` is more than one answer: a sentence, several boxes, or math inside prose."""
    m = _OUTER_RE.match(text)
    inner = (m.group(2) if m else text).strip()
    box = re.fullmatch(r"\\boxed\{(.*)\}\s*\.?", inner, re.DOTALL)
    if box and "\\boxed" not in box.group(1):
        inner = box.group(1)
    without_text = re.sub(r"\\text\w*\{[^{}]*\}", "", inner)
    return bool(re.search(r"\$|\\boxed|\\\(|\\\[|\n", inner) or _PROSE_RE.search(without_text))


# ---------------------------------------------------------------------------------------------------------
# Collecting the cases


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _UNEVALUATED


_UNEVALUATED = object()


def _parametrize(decorator: ast.expr) -> tuple[list[str], list[ast.expr]] | None:
    """(argument names, case nodes) of a @pytest.mark.parametrize decorator, else None."""
    if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("mark.parametrize")):
        return None
    names = ast.literal_eval(decorator.args[0])
    names = [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)
    cases = decorator.args[1]
    return (names, list(cases.elts)) if isinstance(cases, ast.List | ast.Tuple) else None


def _call_options(function: ast.FunctionDef) -> dict[str, object] | None:
    """Keyword literals of the compare_strings()/verify() call in a test body; None if it calls neither."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("compare_strings", "verify"):
            return {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
    return None


def math_verify_cases(root: Path) -> tuple[list[Case], Counter]:
    """Every parametrized (gold, pred, expected) case of Math-Verify's tests/ folder."""
    cases: list[Case] = []
    skipped: Counter = Counter()
    for path in sorted((root / "tests").glob("test_*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            options = _call_options(function)
            for decorator in function.decorator_list:
                parsed = _parametrize(decorator)
                if parsed is None or options is None or not {"gold", "pred"} <= set(parsed[0]):
                    continue
                names, nodes = parsed
                for node in nodes:
                    values = dict(zip(names, (_literal(elt) for elt in node.elts), strict=True))
                    source = f"{path.name}::{function.name}"
                    if any(value is _UNEVALUATED for value in values.values()):
                        skipped["not a literal (f-string)"] += 1
                        continue
                    if values.get("strict", True) is not True:
                        skipped["strict=False (tests the option)"] += 1
                        continue
                    if values.get("allow_set_relation_comp", False) is not False:
                        skipped["allow_set_relation_comp=True (tests the option)"] += 1
                        continue
                    expected = values.get("expected", values.get("result"))
                    match_types = options.get("match_types", MATCH_TYPES)
                    precision = values.get("precision", options.get("precision", DEFAULT_PRECISION))
                    cases.append(
                        Case(
                            source,
                            values["gold"],
                            values["pred"],
                            bool(expected),
                            int(precision),
                            tuple(match_types),
                        )
                    )
    return cases, skipped


def _comment_statements(source: str, function: ast.FunctionDef) -> list[ast.stmt]:
    """Statements of the function body, including the ones commented out (Qwen keeps its cases there)."""
    lines: list[str] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if function.lineno <= token.start[0] <= (function.end_lineno or 0) and token.type == tokenize.COMMENT:
            lines.append(token.string.lstrip("#").strip())
    statements: list[ast.stmt] = []
    for line in lines:
        try:
            statements += ast.parse(line.replace(", gt =", "\ngt =")).body
        except SyntaxError:
            continue
    return statements + function.body


def qwen_cases(root: Path) -> list[Case]:
    """The (pred, gt) pairs in Qwen2.5-Math's evaluation/grader.py test function, commented or not."""
    path = root / "evaluation" / "grader.py"
    source = path.read_text(encoding="utf-8")
    cases: list[Case] = []
    for function in ast.walk(ast.parse(source)):
        if not (isinstance(function, ast.FunctionDef) and function.name.startswith("_test")):
            continue
        pending: dict[str, str] = {}
        for statement in _comment_statements(source, function):
            for node in ast.walk(statement):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    name, value = ast.unparse(node.targets[0]), _literal(node.value)
                    if name in ("pred", "gt") and isinstance(value, str):
                        pending[name] = value
                elif isinstance(node, ast.Call) and ast.unparse(node.func) == "math_equal":
                    args = [_literal(arg) for arg in node.args[:2]]
                    if all(isinstance(arg, str) for arg in args):
                        pending = {"pred": args[0], "gt": args[1]}
                    elif all(isinstance(arg, ast.Name) for arg in node.args[:2]):
                        continue  # math_equal(pred, gt) of the assigned pair, collected below
                if {"pred", "gt"} <= pending.keys():
                    cases.append(Case(f"{path.name}::{function.name}", pending["gt"], pending["pred"], None))
                    pending = {}
    return list(dict.fromkeys(cases))


def _key(text: str) -> str:
    return re.sub(r"\s|\$", "", text).replace("\\\\", "\\")


def label_from(cases: list[Case], labelled: list[Case]) -> list[Case]:
    """Give each unlabelled case the verdict (and precision) of a labelled case with the same two strings."""
    known = {(_key(c.gold), _key(c.pred)): c for c in labelled}
    out = []
    for case in cases:
        twin = known.get((_key(case.gold), _key(case.pred))) or known.get((_key(case.pred), _key(case.gold)))
        out.append(
            case if twin is None else Case(case.source, case.gold, case.pred, twin.expected, twin.precision)
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Categories: the first rule that matches names the case


def _both(case: Case) -> str:
    return f"{case.gold}\n{case.pred}"


def _has_eq(text: str) -> bool:
    return bool(re.search(r"(?<![<>!\\])=|\\approx", text))


_RELATION_RE = re.compile(r"<|>|\\[lg]eq?(?![a-z])|\\[lg]t(?![a-z])|\\neq?(?![a-z])|!=|\\leqslant|\\geqslant")
CATEGORIES: list[tuple[str, Callable[[Case], bool]]] = [
    ("response", lambda c: c.is_response),
    ("tolerance", lambda c: c.precision != DEFAULT_PRECISION),
    ("time", lambda c: bool(re.search(r"(?<![\d.])\d{1,2}:\d{2}(?!\d)", _both(c)))),
    (
        "decimal comma",
        lambda c: (
            bool(re.search(r"(?<![\d,])\d+,\d+(?![\d,])", c.gold + " " + c.pred))
            and "." in _both(c)
            and not re.search(r"[(\[{]", _both(c))
        ),
    ),
    ("matrix", lambda c: "\\begin" in _both(c)),
    ("labelled answer", lambda c: _has_eq(c.gold) != _has_eq(c.pred)),
    ("relation", lambda c: _has_eq(_both(c)) or bool(_RELATION_RE.search(_both(c)))),
    ("set / interval", lambda c: bool(re.search(r"\\\{|\\cup|\\pm|\\infty|\{[^{}]*,", _both(c)))),
    ("tuple / list", lambda c: bool(re.search(r",|;|\band\b|\bor\b", _both(c)))),
    ("percent / units / text", lambda c: bool(re.search(r"%|\\text|[A-Za-z]{2,}|pct", _both(c)))),
    ("number / expression", lambda c: True),
]


def category(case: Case) -> str:
    return next(name for name, rule in CATEGORIES if rule(case))


def response_category(case: Case) -> str:
    boxes = max(case.gold.count("\\boxed"), case.pred.count("\\boxed"))
    return "response: " + ("several boxes" if boxes > 1 else "one box" if boxes else "no box")


# ---------------------------------------------------------------------------------------------------------
# Grading


def ours(cases: list[Case], pool: GradingPool) -> list[bool]:
    """Plain cases as given; response cases after extraction. One batch per precision."""
    verdicts: dict[int, bool] = {}
    by_precision: dict[int, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        by_precision[case.precision].append(index)
    for precision, indexes in by_precision.items():
        config = GradeConfig(precision=None if precision == DEFAULT_PRECISION else precision)
        pairs = []
        for index in indexes:
            case = cases[index]
            gold = extract_answer(case.gold) if _needs_extraction(case.gold) else case.gold
            pred = extract_answer(case.pred) if _needs_extraction(case.pred) else case.pred
            pairs.append(GradePair(gold or "", pred))
        for index, verdict in zip(indexes, grade_batch(pairs, config=config, pool=pool), strict=True):
            verdicts[index] = verdict
    return [verdicts[index] for index in range(len(cases))]


def math_verify(cases: list[Case]) -> list[bool]:
    """math-verify's verdicts, called the way its tests call it."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    targets = {"latex": LatexExtractionConfig(boxed_match_priority=0), "expr": ExprExtractionConfig()}
    verdicts = []
    for case in cases:
        configs = [targets[name] for name in case.match_types]
        gold, pred = parse(case.gold, configs), parse(case.pred, configs)
        verdicts.append(bool(verify(gold, pred, float_rounding=case.precision)))
    return verdicts


def _best_time(run: Callable[[], list[bool]], repeats: int) -> tuple[list[bool], float]:
    best, verdicts = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        verdicts = run()
        best = min(best, time.perf_counter() - start)
    return verdicts, best


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def report(cases: list[Case], our: list[bool], theirs: list[bool]) -> None:
    names = [response_category(c) if c.is_response else category(c) for c in cases]
    print(f"\n{'category':28s} {'cases':>5s} {'ours':>12s} {'math-verify':>12s}")
    groups: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        groups[name].append(index)
    for kind, rule in (("plain", lambda c: not c.is_response), ("response", lambda c: c.is_response)):
        picked = [i for i, c in enumerate(cases) if rule(c)]
        for name in sorted({names[i] for i in picked}):
            indexes = groups[name]
            a = sum(our[i] == cases[i].expected for i in indexes)
            b = sum(theirs[i] == cases[i].expected for i in indexes)
            print(
                f"{name:28s} {len(indexes):5d} {a:6d} {a / len(indexes):5.0%} {b:6d} {b / len(indexes):5.0%}"
            )
        a = sum(our[i] == cases[i].expected for i in picked)
        b = sum(theirs[i] == cases[i].expected for i in picked)
        n = len(picked)
        print(f"{'ALL ' + kind:28s} {n:5d} {a:6d} {a / n:5.1%} {b:6d} {b / n:5.1%}\n")

    print("disagreements with the expected verdict (ours):")
    for index, case in enumerate(cases):
        if our[index] != case.expected:
            tag = "WRONG EQUAL" if our[index] else "missed equal"
            print(
                f"  [{names[index]}] {tag:12s} MV={theirs[index]!s:5s} {case.source}\n"
                f"      gold: {_short(case.gold)}\n      pred: {_short(case.pred)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math-verify", type=Path, required=True, help="checkout of huggingface/Math-Verify")
    parser.add_argument("--qwen", type=Path, help="checkout of QwenLM/Qwen2.5-Math (evaluation/grader.py)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per grader (best is kept)")
    args = parser.parse_args()

    cases, skipped = math_verify_cases(args.math_verify)
    if args.qwen:
        qwen = label_from(qwen_cases(args.qwen), cases)
        for case in qwen:
            if case.expected is None:
                print(
                    f"unlabelled Qwen pair (no Math-Verify twin): {_short(case.gold)} | {_short(case.pred)}"
                )
        cases += [case for case in qwen if case.expected is not None]
    print(f"{len(cases)} labelled cases; left out: {dict(skipped)}")

    with GradingPool(PoolConfig(workers=1)) as pool:
        pool.wait_ready()
        our, our_s = _best_time(lambda: ours(cases, pool), args.repeats)
    theirs, their_s = _best_time(lambda: math_verify(cases), args.repeats)
    report(cases, our, theirs)
    wrong = sum(o and not c.expected for o, c in zip(our, cases, strict=True))
    print(f"\nwrong 'equal' verdicts (ours): {wrong}")
    print(
        f"throughput on these {len(cases)} cases, best of {args.repeats}, extraction included, 1 worker: "
        f"ours {len(cases) / our_s:.0f} cases/s, math-verify {len(cases) / their_s:.0f} cases/s, "
        f"ratio {their_s / our_s:.1f}x"
    )


if __name__ == "__main__":
    main()
