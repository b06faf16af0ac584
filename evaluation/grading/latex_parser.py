"""A small LaTeX-to-sympy parser for the common answer subset, ~50x faster than latex2sympy's ANTLR.

Anything outside the subset returns None and the caller falls back to latex2sympy for both sides.
Conventions follow latex2sympy where notation is ambiguous: implicit products bind tighter than "/"
("1/2x" = 1/(2x)), "\\log" without a base is base 10, "\\sin 2x" = sin(2x). Trees are built
unevaluated so size guards can run before anything is computed.
"""

import re

import sympy

_FUNCTIONS = {
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "exp": sympy.exp,
    "ln": sympy.log,
}
_GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
}
_CONSTANTS = {"pi": sympy.pi, "infty": sympy.oo}
_PRODUCT_OPS = {"*": False, "\\cdot": False, "\\times": False, "/": True, "\\div": True}
_DERIVATIVE_RE = re.compile(r"\\frac\{\s*d")  # \frac{dx}{dt} is not d*x/(d*t): left to latex2sympy
_TOKEN_RE = re.compile(r"\d+\.?\d*|\.\d+|\\[A-Za-z]+|\\.|\S")


class Unsupported(ValueError):
    """The text uses notation outside this parser's subset."""


def _mul(*factors: sympy.Basic) -> sympy.Basic:
    return sympy.Mul(*factors, evaluate=False)


def _div(numerator: sympy.Basic, denominator: sympy.Basic) -> sympy.Basic:
    return _mul(numerator, sympy.Pow(denominator, -1, evaluate=False))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN_RE.findall(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise Unsupported(f"expected {expected or 'more input'}, got {token!r}")
        self.pos += 1
        return token

    def parse(self) -> sympy.Basic:
        expr = self.expr()
        if self.peek():
            raise Unsupported(f"unexpected {self.peek()!r}")
        return expr

    def expr(self) -> sympy.Basic:
        terms = [self.term()]
        while self.peek() in ("+", "-"):
            sign = self.take()
            term = self.term()
            terms.append(term if sign == "+" else _mul(-1, term))
        return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)

    def term(self) -> sympy.Basic:
        if self.peek() in ("+", "-"):
            sign = self.take()
            term = self.term()
            return term if sign == "+" else _mul(-1, term)
        result = self.product()
        while self.peek() in _PRODUCT_OPS:
            divide = _PRODUCT_OPS[self.take()]
            operand = self.product() if self.peek() not in ("+", "-") else self.term()
            result = _div(result, operand) if divide else _mul(result, operand)
        return result

    def starts_atom(self) -> bool:
        token = self.peek()
        if not token:
            return False
        if token[0].isalnum() or token[0] == "." or token in ("(", "[", "{"):
            return True
        name = token[1:]
        return token[0] == "\\" and (
            name in _FUNCTIONS
            or name in _GREEK
            or name in _CONSTANTS
            or name in ("frac", "sqrt", "binom", "log", "lfloor", "lceil")
        )

    def product(self, in_function: bool = False) -> sympy.Basic:
        """Juxtaposed factors ("2x", "2\\sqrt{3}", "(a+5)(b+2)"); a function name ends a function argument."""
        if self.mixed_number():
            return self.mixed()
        factors = [self.power()]
        while self.starts_atom() and not (in_function and self.peek()[1:] in _FUNCTIONS):
            factors.append(self.power())
        return factors[0] if len(factors) == 1 else _mul(*factors)

    def mixed_number(self) -> bool:
        """An integer followed by a proper numeric fraction: "1\\frac{4}{5}" means 1 + 4/5."""
        ahead = self.tokens[self.pos : self.pos + 8]
        if len(ahead) < 8 or ahead[1:3] != ["\\frac", "{"] or ahead[4:6] != ["}", "{"] or ahead[7] != "}":
            return False
        whole, numerator, denominator = ahead[0], ahead[3], ahead[6]
        digits = whole.isdigit() and numerator.isdigit() and denominator.isdigit()
        return digits and int(numerator) < int(denominator)

    def mixed(self) -> sympy.Basic:
        whole = sympy.Integer(self.take())
        self.take("\\frac")
        return sympy.Add(whole, _div(self.group(), self.group()), evaluate=False)

    def power(self) -> sympy.Basic:
        base = self.postfix(self.atom())
        if self.peek() == "^":
            self.take()
            return sympy.Pow(base, self.script(), evaluate=False)
        return base

    def postfix(self, expr: sympy.Basic) -> sympy.Basic:
        while self.peek() == "!":
            self.take()
            expr = sympy.factorial(expr, evaluate=False)
        return expr

    def script(self) -> sympy.Basic:
        """A super- or subscript: a {group} or one token."""
        if self.peek() == "{":
            return self.group()
        token = self.peek()
        if token in ("-", "+"):
            raise Unsupported("signed script without braces")
        return self.atom()

    def group(self, opening: str = "{", closing: str = "}") -> sympy.Basic:
        self.take(opening)
        expr = self.expr()
        self.take(closing)
        return expr

    def raw_script(self) -> str:
        """The text of a subscript used as part of a symbol name."""
        if self.peek() != "{":
            return self.take()
        self.take("{")
        parts = []
        while self.peek() != "}":
            parts.append(self.take().lstrip("\\"))
        self.take("}")
        return "".join(parts)

    def symbol(self, name: str) -> sympy.Basic:
        if self.peek() == "_":
            self.take()
            name = f"{name}_{self.raw_script()}"
        # Like latex2sympy: "f(x)" and "I(0)" (one plain argument) are calls, "n(n-1)" is a product.
        ahead = self.tokens[self.pos : self.pos + 3]
        if len(ahead) == 3 and ahead[0] == "(" and ahead[1].isalnum() and ahead[2] == ")":
            return sympy.Function(name)(self.group("(", ")"))
        if name in ("e", "i"):
            return sympy.E if name == "e" else sympy.I
        return sympy.Symbol(name)

    def atom(self) -> sympy.Basic:
        token = self.take()
        if token[0].isdigit() or (token[0] == "." and len(token) > 1):
            return sympy.Rational(token) if "." in token else sympy.Integer(token)
        if token.isalpha():
            return self.symbol(token)
        if token in ("(", "[", "{"):
            self.pos -= 1
            return self.group(token, {"(": ")", "[": "]", "{": "}"}[token])
        name = token[1:]
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _GREEK:
            return self.symbol(name)
        if name == "frac":
            return _div(self.group(), self.group())
        if name == "binom":
            return sympy.binomial(self.group(), self.group(), evaluate=False)
        if name == "sqrt":
            index = self.group("[", "]") if self.peek() == "[" else sympy.Integer(2)
            return sympy.Pow(self.group(), _div(1, index), evaluate=False)
        if name in ("lfloor", "lceil"):
            inner = self.expr()
            self.take("\\rfloor" if name == "lfloor" else "\\rceil")
            return (sympy.floor if name == "lfloor" else sympy.ceiling)(inner, evaluate=False)
        if name in _FUNCTIONS or name == "log":
            return self.function(name)
        raise Unsupported(f"unknown command {token}")

    def function(self, name: str) -> sympy.Basic:
        base = sympy.Integer(10)
        if name == "log" and self.peek() == "_":
            self.take()
            base = self.script()
        exponent = None
        if self.peek() == "^":  # \sin^2 x
            self.take()
            exponent = self.script()
        argument = self.group("(", ")") if self.peek() == "(" else self.product(in_function=True)
        if name == "log":
            value = _div(sympy.log(argument, evaluate=False), sympy.log(base, evaluate=False))
        else:
            value = _FUNCTIONS[name](argument, evaluate=False)
        return value if exponent is None else sympy.Pow(value, exponent, evaluate=False)


def parse_latex(text: str) -> sympy.Basic | None:
    """Unevaluated sympy expression of a scalar LaTeX answer, or None if outside the subset."""
    if _DERIVATIVE_RE.search(text):
        return None
    try:
        return _Parser(text).parse()
    except (ValueError, TypeError, RecursionError):  # Unsupported, or sympy rejecting a literal
        return None
