"""Exact parsing of number literals (integers, decimals, fractions, scientific and mixed numbers).

Literals become exact rationals, so 12 vs 12.0012 and 1/2^99 vs 1/2^98 are told apart with no tolerance.
The one approximate rule: a decimal literal equals a value with no finite decimal expansion (1/3, pi)
when it has at least MIN_SIGNIFICANT_DIGITS significant digits and is within one unit of its last place
(correct rounding or truncation), e.g. 0.333333 = 1/3 and 6.283185 = 2*pi, but 6.283 != 2*pi.
With an explicit `precision` N (GradeConfig.precision, `rlab grade --precision N`) that rule is replaced
by Math-Verify's `float_rounding`: a decimal literal equals a value when both round to the same number
at N decimal places (0.33 = 1/3 at N=2, not at N=4).
"""

import math
import re
from dataclasses import dataclass
from fractions import Fraction

MIN_SIGNIFICANT_DIGITS = 6
MAX_EXPONENT = 400  # bigger powers of ten are left to the symbolic step and its guards

_NUM = r"(\d+\.?\d*|\.\d+)"
_EXP = r"([+-]?\d+)"
_SCI_RES = (
    re.compile(_NUM + r"[eE]" + _EXP),
    re.compile(_NUM + r"(?:\\times|\\cdot|\*|x)10\^(?:\{" + _EXP + r"\}|(\d))"),
)
_POW10_RE = re.compile(r"10\^(?:\{" + _EXP + r"\}|(\d))")
_FRAC_RES = (
    re.compile(r"\\frac\{([+-]?)" + _NUM + r"\}\{" + _NUM + r"\}"),
    re.compile(r"()" + _NUM + "/" + _NUM),
)
_MIXED_RE = re.compile(r"(\d+)\\frac\{(\d+)\}\{(\d+)\}")


@dataclass(frozen=True)
class Number:
    """An exact value; ulp/digits are set only for decimal literals (which may be rounded)."""

    value: Fraction
    ulp: Fraction | None = None
    digits: int = 0

    def scaled(self, factor: Fraction) -> "Number":
        return Number(self.value * factor, None if self.ulp is None else self.ulp * factor, self.digits)


def _decimal(text: str, exponent: int = 0) -> Number:
    """A decimal literal "6.2830" times 10^exponent; integers without exponent are exact."""
    value = Fraction(text) * Fraction(10) ** exponent
    if "." not in text and exponent >= 0 and not text.startswith("0."):
        return Number(value)
    places = len(text.split(".", 1)[1]) if "." in text else 0
    digits = len(text.replace(".", "").lstrip("0")) or 1
    return Number(value, Fraction(10) ** (exponent - places), digits)


def _unsigned(text: str) -> Number | None:
    if re.fullmatch(_NUM, text):
        return _decimal(text)
    for pattern in _SCI_RES:
        m = pattern.fullmatch(text)
        if m:
            exponent = int(m.group(2) or m.group(3))
            return _decimal(m.group(1), exponent) if abs(exponent) <= MAX_EXPONENT else None
    m = _POW10_RE.fullmatch(text)
    if m:
        exponent = int(m.group(1) or m.group(2))
        return Number(Fraction(10) ** exponent) if abs(exponent) <= MAX_EXPONENT else None
    for pattern in _FRAC_RES:
        m = pattern.fullmatch(text)
        if m and Fraction(m.group(3)) != 0:
            value = Fraction(m.group(2)) / Fraction(m.group(3))
            return Number(-value if m.group(1) == "-" else value)
    m = _MIXED_RE.fullmatch(text)
    if m and 0 < int(m.group(2)) < int(m.group(3)):
        return Number(int(m.group(1)) + Fraction(int(m.group(2)), int(m.group(3))))
    return None


def parse_number(text: str) -> Number | None:
    """Parse a whole string as a number literal ("-3", ".35", "1.5e3", "\\frac{3}{4}", "1\\frac{4}{5}")."""
    text = text.replace(" ", "").replace("{,}", "")
    sign = 1
    while text[:1] in ("+", "-"):
        sign, text = (-sign if text[0] == "-" else sign), text[1:]
    if not text or len(text) > 400:
        return None
    try:
        number = _unsigned(text)
    except (ValueError, ZeroDivisionError):
        return None
    return None if number is None else number.scaled(Fraction(sign))


def terminates(value: Fraction) -> bool:
    """Whether a rational has a finite decimal expansion (denominator of the form 2^a 5^b)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def rounds_to(approx: Number, exact: Fraction) -> bool:
    """Whether the decimal literal `approx` is `exact` rounded or truncated to enough significant digits."""
    return (
        approx.ulp is not None
        and approx.digits >= MIN_SIGNIFICANT_DIGITS
        and abs(exact - approx.value) < abs(approx.ulp)
    )


def round_places(value: Fraction, places: int) -> Fraction:
    """`value` rounded to `places` decimal places, halves away from zero."""
    scale = Fraction(10) ** places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    return Fraction(magnitude if value >= 0 else -magnitude) / scale


def approximates(approx: Number, exact: Fraction, precision: int | None) -> bool:
    """Whether the decimal literal `approx` stands for `exact`: the default rule, or equal at `precision`."""
    if precision is None:
        return not terminates(exact) and rounds_to(approx, exact)
    return round_places(approx.value, precision) == round_places(exact, precision)


def numbers_equal(a: Number, b: Number, precision: int | None = None) -> bool:
    """Exact equality, plus the decimal-approximation rule when a side is a decimal literal.

    With a `precision`, any decimal literal is compared at that many decimal places (both sides rounded).
    """
    if a.value == b.value:
        return True
    if a.ulp is None and b.ulp is None:
        return False
    if precision is not None:
        return approximates(a, b.value, precision)
    if a.ulp is not None and b.ulp is not None:
        return False
    approx, exact = (a, b) if a.ulp is not None else (b, a)
    return approximates(approx, exact.value, None)
