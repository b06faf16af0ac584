"""Symbolic leaf comparison with sympy; imported only inside pool workers (it is slow and may hang).

Values are compared exactly when both sides are rational. Otherwise both sides are evaluated to
30 significant digits and accepted within a relative tolerance of 1e-9: far below any rounding a
grader should forgive (Qwen's 1e-4 accepts 12 = 12.0012), far above evaluation noise, and relative
so tiny distinct values (1/2^99 vs 1/2^98) stay distinct. Expressions with free symbols are compared
at a few fixed rational points (a polynomial-identity-style test) before falling back to simplify().
"""

from fractions import Fraction
from functools import lru_cache

import sympy
from latex2sympy2_extended import NormalizationConfig, latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig

from evaluation.grading.compare import PERCENT, QuickComparator, Verdict
from evaluation.grading.latex_parser import parse_latex
from evaluation.grading.numeric import Number, approximates, numbers_equal, parse_number, rounds_to
from evaluation.grading.structure import Leaf, Relation

REL_TOL = sympy.Rational(1, 10**9)
DIGITS = 30
MAX_MAGNITUDE = 10**4  # exponents / factorial arguments above this are never expanded
_NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=False, nits=False, boxed="none", equations=False
)
_CONVERSION = ConversionConfig(lowercase_symbols=False)
_CONSTANTS = {sympy.Symbol("i"): sympy.I, sympy.Symbol("pi"): sympy.pi}
_UNIT_FACTORS = {"": sympy.Integer(1), "%": sympy.Rational(1, 100), "deg": sympy.pi / 180}
# Probe values: distinct positive non-integers from about 2 to 60 (so floor() and friends vary).
_PROBES = [
    [sympy.Rational(2 + 3 * k + 5 * j) + sympy.Rational(31 + 7 * j + 11 * k, 97) for j in range(12)]
    for k in range(3)
]


def _too_big(expr: sympy.Basic) -> bool:
    """Whether evaluating would build a huge number (10^{10^{10}}, (10^6)!)."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.base.is_number:
            size = node.exp
        elif isinstance(node, sympy.factorial | sympy.gamma | sympy.binomial):
            size = node.args[0]
        else:
            continue
        if size.is_number and abs(sympy.N(size, 5)) > MAX_MAGNITUDE:
            return True
    return False


def _latex2sympy(latex: str) -> sympy.Basic | None:
    try:
        return latex2sympy(latex, normalization_config=_NORMALIZATION, conversion_config=_CONVERSION)
    except Exception:  # latex2sympy raises bare Exception on syntax errors
        return None


@lru_cache(maxsize=4096)
def _to_sympy(latex: str, fast: bool) -> sympy.Expr | None:
    expr = parse_latex(latex) if fast else _latex2sympy(latex)
    if not isinstance(expr, sympy.Expr) or _too_big(expr):
        return None
    return expr.subs(_CONSTANTS).doit()


def to_sympy(*latex: str) -> list[sympy.Expr] | None:
    """Evaluated sympy expressions of scalar leaves, or None if one does not parse or is unsafe.

    One parser for all leaves of a comparison (symbol names differ slightly between them): the fast
    parser when it handles every leaf, else latex2sympy (same conventions, ~50x slower).
    """
    for fast in (True, False):
        exprs = [_to_sympy(text, fast) for text in latex]
        if all(expr is not None for expr in exprs):
            return exprs  # type: ignore[return-value]
    return None


def _evaluate(expr: sympy.Expr, subs: dict | None = None) -> sympy.Expr | None:
    """DIGITS-precision value, or None if it is not a finite number (unknown function, pole, nan)."""
    value = expr.evalf(DIGITS, subs=subs)
    return value if value.is_number and value.is_finite else None


def _close(a: sympy.Expr, b: sympy.Expr) -> bool:
    return bool(abs(a - b) <= REL_TOL * max(abs(a), abs(b)))


def _probe_points(a: sympy.Expr, b: sympy.Expr) -> list[dict]:
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    return [dict(zip(symbols, values, strict=False)) for values in _PROBES]


def expressions_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact for rationals, REL_TOL for other numbers, probing then simplify() for expressions."""
    if a == b:
        return True
    if not (a.free_symbols or b.free_symbols):
        if a.is_Rational and b.is_Rational:
            return False
        va, vb = _evaluate(a), _evaluate(b)
        return va is not None and vb is not None and _close(va, vb)
    if len(a.free_symbols | b.free_symbols) > len(_PROBES[0]):
        return False
    nonzero = False
    for point in _probe_points(a, b):
        va, vb = _evaluate(a, point), _evaluate(b, point)
        if va is None or vb is None:
            return sympy.simplify(a - b) == 0
        if not _close(va, vb):
            return False
        nonzero = nonzero or va != 0
    return nonzero or sympy.simplify(a - b) == 0  # all-zero probes prove nothing


def _decimal_vs_expr(approx: Number, expr: sympy.Expr, precision: int | None) -> bool:
    """A decimal literal against an exact value: exact if rational, else the rounding rule."""
    if expr.free_symbols or not expr.is_number:
        return False
    if expr.is_Rational:
        return numbers_equal(approx, Number(Fraction(int(expr.p), int(expr.q))), precision)
    value = _evaluate(expr)
    if value is None or not value.is_real:
        return False
    exact = Fraction(str(value))  # a 30-digit stand-in for an irrational value: never "terminates"
    return rounds_to(approx, exact) if precision is None else approximates(approx, exact, precision)


class SymbolicComparator(QuickComparator):
    """QuickComparator whose undecided leaves are settled with sympy."""

    def scalar(self, gold: str, gold_unit: str, pred: str, pred_unit: str) -> Verdict:
        quick = super().scalar(gold, gold_unit, pred, pred_unit)
        if quick is not None:
            return quick
        exprs = to_sympy(gold, pred)
        if exprs is None:
            return False
        gold_expr, pred_expr = exprs
        for text, unit, other in (
            (gold, gold_unit, pred_expr * _UNIT_FACTORS[pred_unit]),
            (pred, pred_unit, gold_expr * _UNIT_FACTORS[gold_unit]),
        ):
            number = parse_number(text)
            if number is not None and number.ulp is not None and unit != "deg":
                return _decimal_vs_expr(number.scaled(PERCENT) if unit else number, other, self.precision)
        return expressions_equal(gold_expr * _UNIT_FACTORS[gold_unit], pred_expr * _UNIT_FACTORS[pred_unit])

    def equation(self, gold: Relation, pred: Relation) -> Verdict:
        """Two equations are equal when lhs - rhs of one is a non-zero multiple of the other's."""
        sides = [gold.lhs, gold.rhs, pred.lhs, pred.rhs]
        if not all(isinstance(side, Leaf) and not side.unit for side in sides):
            return False
        exprs = to_sympy(*(side.latex for side in sides if isinstance(side, Leaf)))
        if exprs is None:
            return False
        gold_diff, pred_diff = exprs[0] - exprs[1], exprs[2] - exprs[3]
        if not (gold_diff.free_symbols or pred_diff.free_symbols):
            return False
        ratio = gold_diff / pred_diff
        ratios = [_evaluate(ratio, point) for point in _probe_points(gold_diff, pred_diff)]
        if any(r is None or r == 0 for r in ratios):
            return False
        return all(_close(ratios[0], r) for r in ratios[1:])


def warm_up() -> None:
    """Build sympy's and the ANTLR parser's caches before a worker reports ready (~0.5 s once)."""
    for latex in (
        r"\frac{1}{2} + \sqrt{3} x^{2} - \sin(\theta) \cdot f(x)",
        r"I(0) e^{-\frac{t}{R C}}",
        r"x_0 \cos (\omega t)+ \dot{x}_0 \sin (\omega t) / \omega",
    ):
        _latex2sympy(latex)
    SymbolicComparator().scalar(r"\sqrt{2}", "", "2^{1/2}", "")
