"""Three-valued comparison of answer trees: True, False, or None ("needs the symbolic step")."""

import re
from collections.abc import Callable, Sequence
from fractions import Fraction

from evaluation.grading.numeric import numbers_equal, parse_number
from evaluation.grading.structure import Bag, Leaf, Matrix, Node, Relation, Seq, Text, is_label

Verdict = bool | None

PERCENT = Fraction(1, 100)
_BASE_RE = re.compile(r"(\d+)_\{?(\d{1,2})\}?")  # "204_5": a numeral written in base 5
_TIME_RE = re.compile(r"(\d{1,2}):([0-5]\d)")  # "12:00" is a time of day, not the ratio 12:0


class QuickComparator:
    """Cheap leaf rules (strings, exact numbers); returns None when only sympy can decide.

    `precision`: decimal places at which decimal literals are compared (None: the default rule, numeric.py).
    """

    def __init__(self, precision: int | None = None) -> None:
        self.precision = precision

    def leaf(self, gold: Leaf, pred: Leaf) -> Verdict:
        """Compare two scalars; a unit on one side only is read both as a label and as a factor."""
        if gold.unit == pred.unit:
            return self.scalar(gold.latex, "", pred.latex, "")
        if gold.unit and pred.unit:
            return False
        as_label = self.scalar(gold.latex, "", pred.latex, "")
        as_factor = self.scalar(gold.latex, gold.unit, pred.latex, pred.unit)
        return _any_true((as_label, as_factor))

    def scalar(self, gold: str, gold_unit: str, pred: str, pred_unit: str) -> Verdict:
        """gold*unit vs pred*unit where unit is "", "%" (x1/100) or "deg" (x pi/180)."""
        gold_key, pred_key = gold.replace(" ", ""), pred.replace(" ", "")
        if gold_key == pred_key and gold_unit == pred_unit:
            return True
        gold_time, pred_time = _TIME_RE.fullmatch(gold_key), _TIME_RE.fullmatch(pred_key)
        if gold_time and pred_time:  # two times: same hour and minute ("12:00" is not "1:00")
            return [int(n) for n in gold_time.groups()] == [int(n) for n in pred_time.groups()]
        gold_base, pred_base = _BASE_RE.fullmatch(gold_key), _BASE_RE.fullmatch(pred_key)
        based = gold_base or pred_base
        if based:  # a base-b numeral equals the same numeral, or its digits written without the base
            if gold_base and pred_base:
                return gold_base.groups() == pred_base.groups()
            return based.group(1) == (pred_key if based is gold_base else gold_key)
        gold_number, pred_number = parse_number(gold), parse_number(pred)
        if gold_number is None or pred_number is None:
            return None
        if "deg" in (gold_unit, pred_unit):  # x*pi/180 is irrational unless x is 0
            return gold_number.value == pred_number.value == 0
        if gold_unit == "%":
            gold_number = gold_number.scaled(PERCENT)
        if pred_unit == "%":
            pred_number = pred_number.scaled(PERCENT)
        return numbers_equal(gold_number, pred_number, self.precision)

    def equation(self, gold: Relation, pred: Relation) -> Verdict:
        """Equations with different sides may still be proportional; only sympy can tell."""
        return None if isinstance(gold.lhs, Leaf) and isinstance(pred.lhs, Leaf) else False


def _any_true(verdicts: Sequence[Verdict]) -> Verdict:
    if any(v is True for v in verdicts):
        return True
    return None if any(v is None for v in verdicts) else False


def _all_true(pairs: Sequence[tuple[Node, Node]], cmp: QuickComparator) -> Verdict:
    result: Verdict = True
    for gold, pred in pairs:
        verdict = compare(gold, pred, cmp)
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def _perfect_matching(size: int, edge: Callable[[int, int], bool]) -> bool:
    """Kuhn's augmenting paths; tries the same position first so in-order lists cost O(n) edges."""
    owner = [-1] * size

    def augment(i: int, seen: set[int]) -> bool:
        for j in [i, *range(i), *range(i + 1, size)]:
            if j in seen or not edge(i, j):
                continue
            seen.add(j)
            if owner[j] < 0 or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(size))


def _unordered(golds: Sequence[Node], preds: Sequence[Node], cmp: QuickComparator) -> Verdict:
    """Multiset match: True if a matching of proven-equal pairs exists, False if none could exist."""
    if len(golds) != len(preds):
        return False
    memo: dict[tuple[int, int], Verdict] = {}

    def verdict(i: int, j: int) -> Verdict:
        if (i, j) not in memo:
            memo[i, j] = compare(golds[i], preds[j], cmp)
        return memo[i, j]

    if _perfect_matching(len(golds), lambda i, j: verdict(i, j) is True):
        return True
    return None if _perfect_matching(len(golds), lambda i, j: verdict(i, j) is not False) else False


def _relations(gold: Node, pred: Node, cmp: QuickComparator) -> Verdict:
    if isinstance(gold, Relation) and isinstance(pred, Relation):
        if gold.op != pred.op:
            return False
        verdicts = [_all_true([(gold.lhs, pred.lhs), (gold.rhs, pred.rhs)], cmp)]
        if gold.op in ("=", "\\neq"):
            verdicts.append(_all_true([(gold.lhs, pred.rhs), (gold.rhs, pred.lhs)], cmp))
        if gold.op == "=" and gold.lhs != pred.lhs and True not in verdicts:  # "2y = 4x" vs "y = 2x"
            verdicts.append(cmp.equation(gold, pred))
        return _any_true(verdicts)
    # "x = 3", "(p,q) = (3,2)", "|AB| = 1", "x \in [1,2)" against a bare answer: compare the right-hand side.
    if isinstance(gold, Relation):
        return compare(gold.rhs, pred, cmp) if gold.op in ("=", "\\in") and is_label(gold.lhs) else False
    assert isinstance(pred, Relation)
    return compare(gold, pred.rhs, cmp) if pred.op in ("=", "\\in") and is_label(pred.lhs) else False


def _ordered(golds: Sequence[Node], preds: Sequence[Node], cmp: QuickComparator) -> Verdict:
    if len(golds) != len(preds):
        return False
    return _all_true(list(zip(golds, preds, strict=True)), cmp)


def _vector(matrix: Matrix) -> list[Node] | None:
    if len(matrix.rows) == 1:
        return list(matrix.rows[0])
    return [row[0] for row in matrix.rows] if all(len(row) == 1 for row in matrix.rows) else None


def _mixed(gold: Node, pred: Node, cmp: QuickComparator) -> Verdict:
    """Different node types: singleton set vs element, bare list vs tuple, vector vs tuple."""
    if isinstance(gold, Bag) and len(gold.items) == 1:
        return compare(gold.items[0], pred, cmp)
    if isinstance(pred, Bag) and len(pred.items) == 1:
        return compare(gold, pred.items[0], cmp)
    # A bare list against a tuple: the gold decides whether order matters.
    if isinstance(gold, Bag) and gold.bare and isinstance(pred, Seq) and pred.brackets == "()":
        return _unordered(gold.items, pred.items, cmp)
    if isinstance(gold, Seq) and gold.brackets == "()" and isinstance(pred, Bag) and pred.bare:
        return _ordered(gold.items, pred.items, cmp)
    if isinstance(gold, Matrix) and isinstance(pred, Seq) and pred.brackets == "()":
        return _ordered(_vector(gold) or [], pred.items, cmp)
    if isinstance(gold, Seq) and gold.brackets == "()" and isinstance(pred, Matrix):
        return _ordered(gold.items, _vector(pred) or [], cmp)
    return False


def compare(gold: Node, pred: Node, cmp: QuickComparator) -> Verdict:
    """Whether two answer trees are equal, leaf comparisons delegated to `cmp`."""
    if isinstance(gold, Relation) or isinstance(pred, Relation):
        return _relations(gold, pred, cmp)
    if isinstance(gold, Leaf) and isinstance(pred, Leaf):
        return cmp.leaf(gold, pred)
    if isinstance(gold, Text) and isinstance(pred, Text):
        return gold.value == pred.value
    if isinstance(gold, Seq) and isinstance(pred, Seq):
        return _ordered(gold.items, pred.items, cmp) if gold.brackets == pred.brackets else False
    if isinstance(gold, Bag) and isinstance(pred, Bag):
        return _unordered(gold.items, pred.items, cmp)
    if isinstance(gold, Matrix) and isinstance(pred, Matrix):
        if [len(row) for row in gold.rows] != [len(row) for row in pred.rows]:
            return False
        return _ordered([c for row in gold.rows for c in row], [c for row in pred.rows for c in row], cmp)
    return _mixed(gold, pred, cmp)
