"""Tariff formulas: any numeric operand of a tariff written as an expression over the attributes of the
customer, the site and the meter, the season and the period, e.g. ``tier_1_size * (0.5 if senior_citizen else
1)`` or ``site.floor_area * 0.5``.

The source is parsed with :mod:`ast` and only a whitelist of constructs is accepted (arithmetic, comparisons,
``and``/``or``/``not``, ``a if c else b``, literals, variable names, one attribute of a scope --
``customer.x``, ``site.x``, ``meter.x`` and nothing else -- and calls to ``abs``, ``min``, ``max`` and
``round``). Evaluation walks the validated tree with exact ``Decimal`` arithmetic; nothing is compiled or
passed to ``eval``, and every value is bounded by ``MAX_MAGNITUDE``.

A formula reads its variables by name from one flat mapping: a qualified name as written
(``"site.floor_area"``), a bare name as written (``"senior_citizen"``); which value a bare name stands for is
the caller's business (the tariff engine: the bill's calendar, the tariff's own variables, else the customer's
attribute).
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from functools import lru_cache
from typing import Any

MAX_FORMULA_LENGTH = 500
MAX_MAGNITUDE = Decimal(10) ** 15
_MAX_DEPTH = 50
_MAX_EXPONENT = 6
_MAX_ROUND_PLACES = 15
_CONTEXT = Context(prec=34, traps=[InvalidOperation, DivisionByZero, Overflow])
_TOO_LARGE = f"exceeds the magnitude limit of {MAX_MAGNITUDE:,}"
_UNSAFE_CHARACTER = re.compile("[\0\ud800-\udfff]")
_NEWLINE = re.compile(r"\r\n|\r|\n")

_Value = Decimal | bool | str
SCOPES: tuple[str, ...] = ("customer", "site", "meter")  # the objects whose attributes a formula may read


def _floor_divmod(a: Decimal, b: Decimal) -> tuple[Decimal, Decimal]:
    quotient, remainder = divmod(a, b)  # Decimal truncates toward zero; Python's // and % floor
    if remainder and (remainder < 0) != (b < 0):
        return quotient - 1, remainder + b
    return quotient, remainder


_ARITHMETIC: dict[type[ast.AST], Callable[[Decimal, Decimal], Decimal]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: lambda a, b: _floor_divmod(a, b)[0],
    ast.Mod: lambda a, b: _floor_divmod(a, b)[1],
    ast.Pow: lambda a, b: a**b if b else Decimal(1),
}
_COMPARISONS: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_UNARY = (ast.UAdd, ast.USub, ast.Not)
_SCOPE_LIST = ", ".join(SCOPES[:-1]) + f" and {SCOPES[-1]}"
_FUNCTIONS = {
    "abs": range(1, 2),
    "min": range(1, MAX_FORMULA_LENGTH),
    "max": range(1, MAX_FORMULA_LENGTH),
    "round": range(1, 3),
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripting",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.NamedExpr: "assignment (:=)",
    ast.JoinedStr: "an f-string",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.Dict: "a dict",
    ast.Starred: "unpacking with *",
}


class FormulaError(ValueError):
    """A formula that cannot be parsed or evaluated; ``column`` is the 1-based character position in
    ``source``."""

    def __init__(self, column: int, reason: str, source: str) -> None:
        super().__init__(f"column {column}: {reason}")
        self.column = column
        self.reason = reason
        self.source = source

    def __reduce__(self) -> tuple[type[FormulaError], tuple[int, str, str]]:
        return FormulaError, (self.column, self.reason, self.source)


@dataclass(frozen=True)
class Formula:
    source: str
    names: frozenset[str]  # the variables the formula reads, as written: "senior_citizen", "site.floor_area"

    def evaluate(self, variables: Mapping[str, Decimal | int | bool | str]) -> Decimal:
        """The formula's value for these variables; every variable it reads must be given, even in a branch
        that is not taken, so a formula behaves the same for every customer."""
        program = _compile(self.source)
        with localcontext(_CONTEXT):
            values = {name: program.variable(name, node, variables) for name, node in program.names.items()}
            result = _Evaluation(program, values).value(program.body)
        if not isinstance(result, Decimal):
            raise program.error(program.body, f"formula must produce a number, not {result!r}")
        return result


def parse_formula(source: str) -> Formula:
    """Validates ``source`` completely: ``evaluate`` can then fail only because of the values it is given
    (a missing or float variable, text used as a number, a division by zero, a value beyond the limit)."""
    return Formula(source, frozenset(_compile(source).names))


def _column(source: str, lineno: int, offset: int, *, utf8: bool) -> int:
    """1-based position in ``source`` of a parser position (line, 0-based offset in characters or UTF-8 bytes)
    in the parsed text, which is ``source`` without its leading whitespace."""
    text = source.lstrip()
    starts = [0, *(newline.end() for newline in _NEWLINE.finditer(text))]
    start = starts[max(1, min(lineno, len(starts))) - 1]
    chars = len(text[start:].encode()[:offset].decode(errors="ignore")) if utf8 else offset
    return max(1, min(len(source) - len(text) + start + chars + 1, len(source) + 1))


@dataclass(frozen=True, eq=False)
class _Program:
    source: str
    body: ast.expr
    constants: dict[ast.Constant, _Value]
    names: dict[str, ast.Name | ast.Attribute]  # each variable's first occurrence, by its name as written

    def error(self, node: ast.expr | ast.keyword, reason: str) -> FormulaError:
        return FormulaError(
            _column(self.source, node.lineno, node.col_offset, utf8=True), reason, self.source
        )

    def variable(self, name: str, node: ast.expr, variables: Mapping[str, object]) -> _Value:
        if name not in variables:
            raise self.error(node, f"variable {name!r} is missing")
        value = variables[name]
        if isinstance(value, float):
            raise self.error(node, f"variable {name!r} is a float; floats are not accepted, use a Decimal")
        if isinstance(value, bool | str):
            return value
        number = Decimal(value) if isinstance(value, int) else value
        if not isinstance(number, Decimal) or not number.is_finite():
            raise self.error(
                node, f"variable {name!r} must be a finite Decimal, int, bool or str, not {value!r}"
            )
        if number.copy_abs() > MAX_MAGNITUDE:
            raise self.error(node, f"variable {name!r} {_TOO_LARGE}")
        return number


@lru_cache(maxsize=1024)
def _compile(source: str) -> _Program:
    if len(source) > MAX_FORMULA_LENGTH:
        reason = f"formula is {len(source)} characters, at most {MAX_FORMULA_LENGTH} allowed"
        raise FormulaError(MAX_FORMULA_LENGTH + 1, reason, source)
    if unsafe := _UNSAFE_CHARACTER.search(source):
        raise FormulaError(unsafe.start() + 1, f"character U+{ord(unsafe[0]):04X} is not allowed", source)
    if not source.strip():
        raise FormulaError(1, "formula is empty", source)
    try:
        with warnings.catch_warnings():  # the compiler's SyntaxWarnings are about constructs rejected below
            warnings.simplefilter("ignore")
            tree = ast.parse(source.lstrip(), mode="eval")
    except SyntaxError as err:
        column = (
            _column(source, err.lineno or 1, err.offset - 1, utf8=False) if err.offset else len(source) + 1
        )
        raise FormulaError(column, err.msg, source) from None
    program = _Program(source, tree.body, {}, {})
    with localcontext(_CONTEXT):
        _Checker(program, source.lstrip()).visit(tree.body, 1)
    return program


class _Checker:
    """Walks a parsed formula, rejecting every construct outside the whitelist and collecting its constants
    (numbers as exact Decimals, from their source text) and variable names."""

    def __init__(self, program: _Program, text: str) -> None:
        self.program = program
        self.text = text

    def visit(self, node: ast.expr, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise self.program.error(node, f"formula is nested more than {_MAX_DEPTH} levels deep")
        children: list[ast.expr] = []
        if isinstance(node, ast.Constant):
            self.program.constants[node] = self.constant(node)
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Attribute):
            self.scoped_name(node)
        elif isinstance(node, ast.UnaryOp):
            self.operator(node, node.op, _UNARY)
            children = [node.operand]
        elif isinstance(node, ast.BinOp):
            self.operator(node, node.op, _ARITHMETIC)
            if isinstance(node.op, ast.Pow):
                self.exponent(node.right)
            children = [node.left, node.right]
        elif isinstance(node, ast.BoolOp):
            children = node.values
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                self.operator(node, op, _COMPARISONS)
            children = [node.left, *node.comparators]
        elif isinstance(node, ast.IfExp):
            children = [node.body, node.test, node.orelse]
        elif isinstance(node, ast.Call):
            children = self.call(node)
        else:
            raise self.program.error(
                node, f"{_FORBIDDEN.get(type(node), type(node).__name__)} is not allowed"
            )
        for child in children:
            self.visit(child, depth + 1)

    def segment(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.text, node) or type(node).__name__

    def constant(self, node: ast.Constant) -> _Value:
        if isinstance(node.value, bool | str):
            return node.value
        if not isinstance(node.value, int | float):
            raise self.program.error(node, f"the literal {self.segment(node)} is not allowed")
        try:  # a float literal is read from its source text, so 0.1 is exactly Decimal("0.1")
            number = Decimal(node.value) if isinstance(node.value, int) else Decimal(self.segment(node))
        except InvalidOperation:  # an exponent beyond what Decimal can represent
            raise self.program.error(node, f"the number {self.segment(node)} is out of range") from None
        if number.copy_abs() > MAX_MAGNITUDE:
            raise self.program.error(node, f"the number {self.segment(node)} {_TOO_LARGE}")
        return number

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise self.program.error(node, f"{node.id}: names starting with an underscore are not allowed")
        if node.id in _FUNCTIONS:
            raise self.program.error(node, f"{node.id} is a function and must be called")
        self.program.names.setdefault(node.id, node)

    def scoped_name(self, node: ast.Attribute) -> None:
        """``scope.name``: one attribute of the customer, the site or the meter; no other attribute access."""
        scope = node.value
        chain = [node]
        while isinstance(chain[-1].value, ast.Attribute):
            chain.append(chain[-1].value)
        root = chain[-1].value
        if len(chain) > 1 and isinstance(root, ast.Name) and root.id in SCOPES:
            reason = (
                f"{self.segment(node)}: a formula reads one attribute of {_SCOPE_LIST}, "
                f"not an attribute of an attribute (write {root.id}.{chain[-1].attr})"
            )
            raise self.program.error(node, reason)
        if not isinstance(scope, ast.Name) or scope.id not in SCOPES:
            reason = (
                f"attribute access is not allowed on {self.segment(scope)}; "
                f"a formula reads attributes of {_SCOPE_LIST} only (e.g. site.floor_area)"
            )
            raise self.program.error(node, reason)
        if node.attr.startswith("_"):
            reason = f"{scope.id}.{node.attr}: names starting with an underscore are not allowed"
            raise self.program.error(node, reason)
        self.program.names.setdefault(f"{scope.id}.{node.attr}", node)

    def operator(self, node: ast.expr, op: ast.AST, allowed: Container[type[ast.AST]]) -> None:
        if type(op) not in allowed:
            raise self.program.error(
                node, f"the {_SYMBOLS.get(type(op), type(op).__name__)} operator is not allowed"
            )

    def exponent(self, node: ast.expr) -> None:
        signed = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub)
        literal = node.operand if isinstance(node, ast.UnaryOp) and signed else node
        value = literal.value if isinstance(literal, ast.Constant) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.program.error(node, "the exponent of ** must be an integer literal")
        if value > _MAX_EXPONENT:
            limit = _MAX_EXPONENT
            reason = f"the exponent of ** must be from -{limit} to {limit}, not {self.segment(node)}"
            raise self.program.error(node, reason)

    def call(self, node: ast.Call) -> list[ast.expr]:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is None and type(node.func) in _FORBIDDEN:
            raise self.program.error(node.func, f"{_FORBIDDEN[type(node.func)]} is not allowed")
        if name not in _FUNCTIONS:
            allowed = ", ".join(_FUNCTIONS)
            reason = f"calling {self.segment(node.func)} is not allowed; only {allowed} can be called"
            raise self.program.error(node, reason)
        if node.keywords:
            raise self.program.error(node.keywords[0], "keyword arguments are not allowed")
        if len(node.args) not in _FUNCTIONS[name]:
            raise self.program.error(node, f"{name}() cannot take {len(node.args)} arguments")
        return node.args


class _Evaluation:
    """One evaluation of a checked program: Python's semantics, but on exact Decimals within MAX_MAGNITUDE."""

    def __init__(self, program: _Program, values: dict[str, _Value]) -> None:
        self.program = program
        self.values = values

    def value(self, node: ast.expr) -> _Value:
        if isinstance(node, ast.Constant):
            return self.program.constants[node]
        if isinstance(node, ast.Name):
            return self.values[node.id]
        if isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name)  # checked: scope.name
            return self.values[f"{node.value.id}.{node.attr}"]
        if isinstance(node, ast.IfExp):
            return self.value(node.body) if self.value(node.test) else self.value(node.orelse)
        if isinstance(node, ast.BoolOp):
            stop = isinstance(
                node.op, ast.Or
            )  # `or` stops at the first true value, `and` at the first false one
            for operand in node.values:
                result = self.value(operand)
                if bool(result) is stop:
                    break
            return result
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.value(node.operand)
        try:
            number = self.arithmetic(node)
        except (InvalidOperation, Overflow):  # a quotient or power too large for the context
            number = Decimal("Infinity")
        if number.copy_abs() > MAX_MAGNITUDE:
            raise self.program.error(node, f"the value {_TOO_LARGE}")
        return number

    def number(self, node: ast.expr) -> Decimal:
        value = self.value(node)
        if isinstance(value, str):
            raise self.program.error(node, f"text ({value!r}) cannot be used as a number")
        return Decimal(value) if isinstance(value, bool) else value

    def compare(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.value(comparator)
            if not isinstance(op, ast.Eq | ast.NotEq) and isinstance(left, str) != isinstance(right, str):
                raise self.program.error(node, "text can only be ordered against text")
            if not _COMPARISONS[type(op)](left, right):
                return False
            left = right
        return True

    def arithmetic(self, node: ast.expr) -> Decimal:
        if isinstance(node, ast.UnaryOp):
            return -self.number(node.operand) if isinstance(node.op, ast.USub) else +self.number(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.number(node.left), self.number(node.right)
            if (right == 0 and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod)) or (
                left == 0 and right < 0 and isinstance(node.op, ast.Pow)
            ):
                raise self.program.error(node, "division by zero")
            return _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [self.number(arg) for arg in node.args]
            if node.func.id == "abs":
                return abs(args[0])
            if node.func.id == "round":
                return self.round(node, *args)
            return min(args) if node.func.id == "min" else max(args)
        raise TypeError(f"unchecked node {type(node).__name__}")

    def round(self, node: ast.Call, value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
        if places != places.to_integral_value() or places.copy_abs() > _MAX_ROUND_PLACES:
            reason = (
                f"round() takes a whole number of places from -{_MAX_ROUND_PLACES} to {_MAX_ROUND_PLACES}"
            )
            raise self.program.error(node, reason)
        rounded = value.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
        return rounded if places >= 0 else rounded.quantize(Decimal(1))  # 1200, not 1.2E+3
