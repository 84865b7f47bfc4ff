"""Indicator expressions: how a performance indicator is computed from the raw values of a device.

A TMF628 PerformanceIndicatorSpecification with `derivationMethod: expression` holds in `derivationAlgorithm` one
arithmetic expression over the raw values listed in counters.py (ifHCInOctets, ifHighSpeed, hrProcessorLoad...).
Every granularity period the device is read once; the expression is evaluated between the previous reading and
the current one, for one interface (if it names any interface value) or for the device.

The language
------------
- A raw value's name alone is its current value: `ifHighSpeed`, `ifOperStatus`, `memTotalReal`.
- `delta(c)`: how much counter `c` increased over the interval. `rate(c)`: that increase per second (divided by
  the seconds elapsed between the two readings). `c` must be a counter's name (counter32 or counter64), not an
  expression. A counter that passed its maximum and started again from 0 (wrapped: 2^32 for counter32, 2^64 for
  counter64) is counted right; a counter that went back by more than half its range was reset and is not.
- Numbers: `8`, `100`, `1e6`, `0.5`.
- Arithmetic: `+ - * /` and parentheses, with the usual precedence; a leading `-` or `+`. Blanks do not count;
  inside parentheses an expression may span lines.
- Comparisons `== != < <= > >=` give 1 when true and 0 when false: `ifOperStatus == 1`. They chain as in
  mathematics: `0 < x < 10`.
- `min(a, b, ...)`, `max(a, b, ...)`, `abs(a)`.
- `fallback(a, b, ...)`: the first of its arguments that has a value, e.g. the 64-bit counter where the device
  has it and the 32-bit one where it does not: `fallback(rate(ifHCInOctets), rate(ifInOctets))`. When none has
  one, the reasons of all are given.

Examples: received bits per second `8 * rate(ifHCInOctets)`; inbound utilisation in percent
`100 * 8 * rate(ifHCInOctets) / (ifHighSpeed * 1000000)`; memory used in percent
`100 * (memTotalReal - memAvailReal) / memTotalReal`.

Missing values
--------------
An interval whose value cannot be known has no value, never 0; it is "missing" with the reason:
- the device did not give a value the expression needs ("counter ifHCInOctets not available on ifIndex 7");
- there is no previous reading yet and the expression uses `rate` or `delta`;
- the device restarted during the interval ("device restarted"): its sysUpTime went back, or advanced less than
  the time that passed between the readings (then every counter started again from 0, so an increase cannot be
  known). sysUpTime itself wraps after 497 days, which also shows as a restart, for one interval;
- the device's uptime advanced more than the time that passed between the readings (the readings' clocks
  disagree, so no rate can be trusted). Uptime and elapsed time may differ by 2 s or a tenth of the interval,
  whichever is larger, before either case applies;
- an interface's counters restarted without the device (its ifCounterDiscontinuityTime changed), or a counter was
  reset (went back by more than half its range);
- a division by zero ("division by zero: ifHighSpeed * 1000000 is 0").
An expression that names interface values is evaluated for one ifIndex; a device value in it is the device's.

Expressions are Python syntax, parsed with the standard `ast` module and checked against a short whitelist of
node types: nothing outside the language above (attributes, indexing, strings, other functions, keywords) gets
through, and nothing is ever run by Python's eval. Parsing checks everything once (syntax, names, functions and
their arguments) and raises DerivationError saying what is wrong and where; evaluating a parsed expression, many
times, only computes.
"""
from __future__ import annotations

import ast
import difflib
import math
import operator
from dataclasses import dataclass
from typing import Callable

from tmf_oss.performance.counters import COUNTER_MODULUS, COUNTERS, DISCONTINUITY, Counter, Reading

MAX_LENGTH = 2000
MAX_DEPTH = 60  # nested operations; deeper is a mistake or an attack, not an indicator

# The poll clock and the device's uptime may disagree by this much (seconds, or fraction of the interval,
# whichever is larger) before an interval is taken for a restart or for inconsistent clocks: SNMP round trips and
# retries put the poll stamp a little after the moment the agent read its clock.
CLOCK_TOLERANCE_SECONDS = 2.0
CLOCK_TOLERANCE_FRACTION = 0.1

DEVICE_RESTARTED = "device restarted"


class DerivationError(ValueError):
    """An expression that cannot be used; the message says what is wrong and where."""


@dataclass(frozen=True)
class Missing:
    """No value for an interval, and why."""

    reason: str


class _Unavailable(Exception):
    """Raised while evaluating: the interval has no value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Interval:
    """The two readings an expression is evaluated between, for one ifIndex (None for the device)."""

    __slots__ = ("previous", "current", "index", "elapsed")

    def __init__(self, previous: Reading | None, current: Reading, index: int | None):
        self.previous, self.current, self.index = previous, current, index
        self.elapsed = 0.0

    def _key(self, counter: Counter):
        return counter.name, (self.index if counter.scope == "interface" else None)

    def _where(self, counter: Counter) -> str:
        return f"ifIndex {self.index}" if counter.scope == "interface" else "the device"

    def value(self, counter: Counter) -> float:
        value = self.current.values.get(self._key(counter))
        if value is None:
            raise _Unavailable(f"counter {counter.name} not available on {self._where(counter)}")
        return float(value)

    def increase(self, counter: Counter) -> float:
        key = self._key(counter)
        before, after = self.previous.values.get(key), self.current.values.get(key)
        if after is None:
            raise _Unavailable(f"counter {counter.name} not available on {self._where(counter)}")
        if before is None:
            raise _Unavailable(f"counter {counter.name} not available on {self._where(counter)} in the previous "
                               f"reading")
        if counter.scope == "interface":
            restarted_before = self.previous.values.get((DISCONTINUITY, self.index))
            restarted_after = self.current.values.get((DISCONTINUITY, self.index))
            if restarted_before is not None and restarted_after is not None and restarted_before != restarted_after:
                raise _Unavailable(f"the counters of ifIndex {self.index} restarted (ifCounterDiscontinuityTime "
                                   f"changed)")
        modulus = COUNTER_MODULUS[counter.kind]
        increase = (int(after) - int(before)) % modulus
        if after < before and increase >= modulus // 2:  # a wrap is a small step past the top, not a fall
            raise _Unavailable(f"counter {counter.name} was reset on {self._where(counter)} (went back from "
                               f"{int(before)} to {int(after)})")
        return float(increase)


Evaluator = Callable[[_Interval], float]


def _interval_problem(previous: Reading | None, current: Reading) -> str | None:
    """Why no increase can be known between two readings of a device, or None."""
    if previous is None:
        return "no previous reading (the first interval of a rate or delta)"
    elapsed = current.monotonic - previous.monotonic
    if elapsed <= 0:
        return "no time elapsed between the two readings"
    before, after = previous.uptime, current.uptime
    if before is None or after is None:
        return None  # an agent without sysUpTime: wraps are assumed, resets show as counters going back
    if after < before:
        return DEVICE_RESTARTED
    advanced = (after - before) / 100
    tolerance = max(CLOCK_TOLERANCE_SECONDS, CLOCK_TOLERANCE_FRACTION * elapsed)
    if advanced < elapsed - tolerance:
        return DEVICE_RESTARTED
    if advanced > elapsed + tolerance:
        return (f"elapsed time inconsistent: the device's uptime advanced {advanced:.1f} s while {elapsed:.1f} s "
                f"passed between the readings")
    return None


class Expression:
    """A parsed, checked indicator expression; evaluate it as often as needed."""

    def __init__(self, text: str, evaluator: Evaluator, counters: frozenset[str], uses_interval: bool):
        self.text = text
        self.counters = counters  # the raw values it names
        # interface: evaluated per ifIndex; device: once per device
        self.scope = "interface" if any(COUNTERS[name].scope == "interface" for name in counters) else "device"
        self._evaluator = evaluator
        self._uses_interval = uses_interval  # rate() or delta(): needs a previous reading

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, previous: Reading | None, current: Reading, index: int | None = None) -> float | Missing:
        """The value between two readings of one device (for interface `index` if the scope is interface), or
        Missing with the reason. `previous` may be None for the first reading: expressions that use no rate or
        delta have a value then."""
        if self.scope == "interface" and not isinstance(index, int):
            raise ValueError(f"an interface expression is evaluated for an ifIndex, got {index!r}: {self.text}")
        interval = _Interval(previous, current, index)
        if self._uses_interval:
            problem = _interval_problem(previous, current)
            if problem:
                return Missing(problem)
            interval.elapsed = current.monotonic - previous.monotonic
        try:
            value = self._evaluator(interval)
        except _Unavailable as unavailable:
            return Missing(unavailable.reason)
        if not math.isfinite(value):
            return Missing("the result is not a finite number")
        return float(value)


def parse(text: str) -> Expression:
    """Parse and check an expression. Raises DerivationError naming the problem and where it is."""
    if not isinstance(text, str):
        raise DerivationError(f"an expression is text, not {type(text).__name__}")
    if not text.strip():
        raise DerivationError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise DerivationError(f"the expression is longer than {MAX_LENGTH} characters")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        lines = source.splitlines()
        line = lines[error.lineno - 1] if error.lineno and error.lineno <= len(lines) else ""
        if error.offset and error.offset <= len(line):
            where = _position(source, error.lineno, error.offset - 1)
        else:  # Python places a text that stops short at offset 0 or past its end
            where = "at the end of the expression"
        raise DerivationError(f"syntax error {where}: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise DerivationError("the expression is nested too deeply") from None
    except ValueError as error:  # a NUL character
        raise DerivationError(f"the expression cannot be read: {error}") from None
    compiler = _Compiler(source)
    evaluator = compiler.compile(tree.body, 0)
    return Expression(source, evaluator, frozenset(compiler.counters), compiler.uses_interval)


def _position(source: str, line: int | None, column: int) -> str:
    if "\n" not in source:
        return f"at column {column + 1}"
    return f"at line {line}, column {column + 1}"


def _suggestion(name: str, choices) -> str:
    """' (did you mean X?)' for the closest known name, ignoring case; '' when none is close."""
    lowered = {choice.lower(): choice for choice in choices}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[matches[0]]}?)" if matches else ""


ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
               ast.Gt: operator.gt, ast.GtE: operator.ge}
OPERATOR_SYMBOLS = {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<",
                    ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.Invert: "~",
                    ast.Not: "not", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# name: (fewest arguments, most arguments or None)
FUNCTIONS = {"rate": (1, 1), "delta": (1, 1), "abs": (1, 1), "min": (2, None), "max": (2, None),
             "fallback": (2, None)}
CONSTRUCTS = {ast.Attribute: "attribute access ('.')", ast.Subscript: "indexing ('[...]')",
              ast.BoolOp: "'and' / 'or'", ast.IfExp: "'... if ... else ...'", ast.Lambda: "lambda",
              ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dictionary", ast.Set: "a set",
              ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
              ast.GeneratorExp: "a comprehension", ast.JoinedStr: "text", ast.NamedExpr: "':='",
              ast.Starred: "'*'", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice"}


class _Compiler:
    """Turns a checked syntax tree into nested closures (fast to evaluate) and notes the raw values it names."""

    def __init__(self, source: str):
        self.source = source
        self.counters: set[str] = set()
        self.uses_interval = False

    def _at(self, node: ast.AST) -> str:
        line = self.source.splitlines()[node.lineno - 1] if self.source else ""
        column = len(line.encode("utf-8")[:node.col_offset].decode("utf-8", errors="ignore"))  # offsets are bytes
        return _position(self.source, node.lineno, column)

    def _fail(self, node: ast.AST, message: str, hint: str = ""):
        raise DerivationError(f"{message} {self._at(node)}{hint}")

    def _text(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        return text if len(text) <= 40 else f"{text[:37]}..."

    def compile(self, node: ast.AST, depth: int) -> Evaluator:
        if depth > MAX_DEPTH:
            self._fail(node, "the expression is nested too deeply")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        self._fail(node, f"{CONSTRUCTS.get(type(node), type(node).__name__)} is not allowed in an indicator "
                         f"expression")

    def _constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(node, f"{self._text(node)} is not a number")
        try:
            number = float(value)
        except OverflowError:  # an integer literal beyond any float
            number = math.inf
        if not math.isfinite(number):
            self._fail(node, f"{self._text(node)} is not a finite number")
        return lambda _interval: number

    def _counter(self, node: ast.Name) -> Counter:
        if node.id in FUNCTIONS:
            self._fail(node, f"{node.id} is a function: write {node.id}(...)")
        counter = COUNTERS.get(node.id)
        if counter is None:
            self._fail(node, f"unknown counter '{node.id}'", _suggestion(node.id, COUNTERS))
        self.counters.add(counter.name)
        return counter

    def _name(self, node: ast.Name) -> Evaluator:
        counter = self._counter(node)
        return lambda interval: interval.value(counter)

    def _binary(self, node: ast.BinOp, depth: int) -> Evaluator:
        kind = type(node.op)
        if kind not in ARITHMETIC and kind is not ast.Div:
            self._fail(node, f"operator '{OPERATOR_SYMBOLS.get(kind, kind.__name__)}' is not allowed (only + - * /)")
        left, right = self.compile(node.left, depth + 1), self.compile(node.right, depth + 1)
        if kind is ast.Div:
            zero = f"division by zero: {self._text(node.right)} is 0"

            def divide(interval: _Interval) -> float:
                numerator, denominator = left(interval), right(interval)
                if denominator == 0:
                    raise _Unavailable(zero)
                return numerator / denominator

            return divide
        apply = ARITHMETIC[kind]
        return lambda interval: apply(left(interval), right(interval))

    def _unary(self, node: ast.UnaryOp, depth: int) -> Evaluator:
        operand = self.compile(node.operand, depth + 1)
        if isinstance(node.op, ast.USub):
            return lambda interval: -operand(interval)
        if isinstance(node.op, ast.UAdd):
            return operand
        kind = type(node.op)
        self._fail(node, f"operator '{OPERATOR_SYMBOLS.get(kind, kind.__name__)}' is not allowed (only a leading "
                         f"- or +)")

    def _compare(self, node: ast.Compare, depth: int) -> Evaluator:
        tests = []
        for op in node.ops:
            if type(op) not in COMPARISONS:
                self._fail(node, f"comparison '{OPERATOR_SYMBOLS.get(type(op), type(op).__name__)}' is not allowed "
                                 f"(only == != < <= > >=)")
            tests.append(COMPARISONS[type(op)])
        operands = [self.compile(operand, depth + 1) for operand in [node.left, *node.comparators]]

        def compare(interval: _Interval) -> float:
            values = [operand(interval) for operand in operands]
            return 1.0 if all(test(a, b) for test, a, b in zip(tests, values, values[1:])) else 0.0

        return compare

    def _call(self, node: ast.Call, depth: int) -> Evaluator:
        if not isinstance(node.func, ast.Name):
            self._fail(node, "only the functions rate, delta, min, max, abs and fallback can be called")
        name = node.func.id
        if name not in FUNCTIONS:
            known = f" (functions: {', '.join(sorted(FUNCTIONS))})"
            if name in COUNTERS:
                self._fail(node, f"counter '{name}' called as a function", known)
            self._fail(node, f"unknown function '{name}'", _suggestion(name, FUNCTIONS) or known)
        if node.keywords:
            self._fail(node, f"{name}() takes no named arguments")
        fewest, most = FUNCTIONS[name]
        count = len(node.args)
        if count < fewest or (most is not None and count > most):
            wanted = f"exactly {fewest}" if fewest == most else f"at least {fewest}"
            self._fail(node, f"{name}() takes {wanted} argument{'s' if fewest > 1 else ''}, got {count}")
        if name in ("rate", "delta"):
            return self._increase(node, name)
        arguments = [self.compile(argument, depth + 1) for argument in node.args]
        if name == "abs":
            only = arguments[0]
            return lambda interval: abs(only(interval))
        if name in ("min", "max"):
            pick = min if name == "min" else max
            return lambda interval: pick(argument(interval) for argument in arguments)
        return _fallback(arguments)

    def _increase(self, node: ast.Call, name: str) -> Evaluator:
        argument = node.args[0]
        if not isinstance(argument, ast.Name):
            self._fail(argument, f"{name}() takes the name of a counter, not an expression")
        counter = self._counter(argument)
        if not counter.is_counter:
            article = "an" if counter.kind[0] in "aeiou" else "a"
            self._fail(argument, f"{name}() needs a counter (counter32 or counter64) and {counter.name} is "
                                 f"{article} {counter.kind}", " (use its name alone for its current value)")
        self.uses_interval = True
        if name == "delta":
            return lambda interval: interval.increase(counter)
        return lambda interval: interval.increase(counter) / interval.elapsed


def _fallback(arguments: list[Evaluator]) -> Evaluator:
    def first_available(interval: _Interval) -> float:
        reasons = []
        for argument in arguments:
            try:
                return argument(interval)
            except _Unavailable as unavailable:
                if unavailable.reason not in reasons:
                    reasons.append(unavailable.reason)
        raise _Unavailable("; ".join(reasons))

    return first_available
