"""A generated arithmetic/algebra benchmark, so an offline demo has real problems to grade.

Five levels, interleaved (problem i has level i % 5 + 1) so any prefix mixes them:
  1 arithmetic: a + b or a - b (a >= b), operands up to 99
  2 arithmetic: a two-digit number times a one-digit number
  3 arithmetic: three operands with mixed precedence, e.g. "7 + 6 * 4" or "(12 - 5) * 3"
  4 algebra: solve a*x + b = c for an integer x
  5 algebra: evaluate f(x) = a*x^2 + b*x + c at an integer point
Every answer is an integer. Each row also carries a short worked `solution` ending in \\boxed{answer}: the
demonstrations SFT, SRFT and LUFFY need, so those can run offline too. The same seed always gives the same
problems.
"""

import random
from collections.abc import Callable
from typing import Any

LEVELS = 5


Generated = tuple[str, int, str]  # problem, answer, worked steps (without the final boxed line)


def _sum_or_difference(rng: random.Random) -> Generated:
    a, b = rng.randint(10, 99), rng.randint(1, 99)
    if rng.random() < 0.5:
        return f"What is {a} + {b}?", a + b, f"{a} + {b} = {a + b}."
    high, low = max(a, b), min(a, b)
    return f"What is {high} - {low}?", high - low, f"{high} - {low} = {high - low}."


def _product(rng: random.Random) -> Generated:
    a, b = rng.randint(11, 99), rng.randint(2, 9)
    return f"What is {a} * {b}?", a * b, f"{a} * {b} = {a * b}."


def _two_steps(first: str, first_value: int, then: str, value: int) -> str:
    return f"First {first} = {first_value}, then {then} = {value}."


def _mixed(rng: random.Random) -> Generated:
    a, b, c = rng.randint(2, 20), rng.randint(2, 12), rng.randint(2, 12)
    forms: list[Generated] = [
        (f"{a} + {b} * {c}", a + b * c, _two_steps(f"{b} * {c}", b * c, f"{a} + {b * c}", a + b * c)),
        (f"{a} * {b} - {c}", a * b - c, _two_steps(f"{a} * {b}", a * b, f"{a * b} - {c}", a * b - c)),
        (f"({a} + {b}) * {c}", (a + b) * c, _two_steps(f"{a} + {b}", a + b, f"{a + b} * {c}", (a + b) * c)),
        (f"({a} - {b}) * {c}", (a - b) * c, _two_steps(f"{a} - {b}", a - b, f"{a - b} * {c}", (a - b) * c)),
    ]
    expression, value, steps = rng.choice(forms)
    return f"What is {expression}?", value, steps


def _signed(term: int) -> str:
    return f"+ {term}" if term >= 0 else f"- {-term}"


def _linear_equation(rng: random.Random) -> Generated:
    a, x, b = rng.randint(2, 9), rng.choice([n for n in range(-12, 13) if n != 0]), rng.randint(-30, 30)
    left = f"{a}x" if b == 0 else f"{a}x {_signed(b)}"
    steps = f"{a}x = {a * x + b} - ({b}) = {a * x}, so x = {a * x} / {a} = {x}."
    return f"Solve for x: {left} = {a * x + b}.", x, steps


def _quadratic_value(rng: random.Random) -> Generated:
    a, b, c, x = rng.randint(1, 5), rng.randint(-9, 9), rng.randint(-9, 9), rng.randint(-5, 5)
    polynomial = f"{a}x^2" if a != 1 else "x^2"
    if b != 0:
        polynomial += f" {_signed(b)}x"
    if c != 0:
        polynomial += f" {_signed(c)}"
    value = a * x * x + b * x + c
    steps = f"f({x}) = {a} * {x * x} + ({b}) * ({x}) + ({c}) = {a * x * x} + ({b * x}) + ({c}) = {value}."
    return f"Let f(x) = {polynomial}. What is f({x})?", value, steps


_GENERATORS: dict[int, tuple[str, Callable[[random.Random], Generated]]] = {
    1: ("arithmetic", _sum_or_difference),
    2: ("arithmetic", _product),
    3: ("arithmetic", _mixed),
    4: ("algebra", _linear_equation),
    5: ("algebra", _quadratic_value),
}


def generate_arith(n: int = 500, seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows with id, problem, answer (an integer as a string), solution, subject and level (1-5)."""
    rng = random.Random(seed)
    rows = []
    for index in range(n):
        level = index % LEVELS + 1
        subject, make = _GENERATORS[level]
        problem, answer, steps = make(rng)
        rows.append(
            {
                "id": f"arith-{index:04d}",
                "problem": problem,
                "answer": str(answer),
                "solution": f"{steps} The answer is \\boxed{{{answer}}}.",
                "subject": subject,
                "level": level,
            }
        )
    return rows
