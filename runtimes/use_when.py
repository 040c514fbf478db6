"""`use_when`: the design's expression that says when a target builds in a container, e.g.
`use_when = "target.os != host.os"`.

The text comes from xcargo.toml, which may come from a project nobody reviewed, so it is
checked once, up front, against a small grammar: the fields of `target` and `host`, quoted
strings, `==`, `!=`, `in` and `not in` (against a list of strings), `and`, `or`, `not`,
parentheses and `true`/`false`. Python's `ast` only reads the text to check it and to say
where a problem is; simpleeval evaluates it, with no functions, only these operators and names,
and only the fields as attributes. Nothing is ever handed to `eval`.

Every problem names its column (1-based, in characters; "line L, column C" for an expression
written over several lines) and the text found there.
"""

from __future__ import annotations

import ast
import difflib
import operator
from dataclasses import dataclass, field
from types import SimpleNamespace

from simpleeval import EvalWithCompoundTypes, InvalidExpression

from runtimes.errors import UsageError
from runtimes.host import host_triple
from runtimes.targets import Triple

__all__ = ["FIELDS", "MAX_USE_WHEN_LENGTH", "NAMES", "UseWhen", "host_triple"]

MAX_USE_WHEN_LENGTH = 500
#: What `target.<field>` and `host.<field>` may name; each is a string ("" when a triple has none).
FIELDS = ("os", "arch", "env", "vendor", "triple")
#: The names an expression may use: the two triples and the boolean literals.
NAMES = ("target", "host", "true", "false")
_SUBJECTS = ("target", "host")
_BOOLEANS = {"true": True, "false": False}
_SHOWN_LENGTH = 40
# Marks where a message names the position; user text (always repr()'d) cannot contain it.
_WHERE = "\x00where\x00"

_FIELD_LIST = ", ".join(f"target.{name}" for name in FIELDS) + " and the same of host"
_GRAMMAR = (
    "compare target.os, target.arch, target.env, target.vendor, target.triple (and host.*) "
    'with ==, != or in ("gnu", "musl"); combine with and, or, not; e.g. '
    '"target.os != host.os"'
)

# The operators simpleeval may apply: the only ones the check lets through.
_OPERATORS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda item, items: item in items,
    ast.NotIn: lambda item, items: item not in items,
    ast.Not: operator.not_,
}
_COMPARISON_WORDS = {ast.Eq: "==", ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in"}

# What a refused construct is called in a message.
_REFUSED = {
    ast.Call: "a function call",
    ast.Subscript: "a subscript",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.BinOp: "arithmetic",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "an assignment",
    ast.IfExp: "a conditional expression",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Starred: "unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}

# The kind of value a checked part of the expression has.
_STRING = "a string"
_BOOLEAN = "true or false"
_LIST = "a list"


@dataclass(frozen=True)
class UseWhen:
    """A checked use_when expression; make one with `UseWhen.parse`. Two are equal when their
    text is.
    """

    text: str
    _tree: ast.expr = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, *, prefix: str = "use_when: ") -> UseWhen:
        """Check `text` once; raise UsageError naming the column of the first problem.

        `prefix` starts every message; xcargo.toml's loader passes "" because its messages
        already name the key.
        """
        return cls(text, _Checker(text, prefix).check())

    def evaluate(self, *, target: Triple, host: Triple) -> bool:
        """Whether the expression holds for building `target` on `host`."""
        evaluator = EvalWithCompoundTypes(
            operators=_OPERATORS,
            names={"target": _fields(target), "host": _fields(host), **_BOOLEANS},
            allowed_attrs={SimpleNamespace: set(FIELDS)},
        )
        evaluator.functions = {}  # EvalWithCompoundTypes offers list(), tuple()... : none here
        try:
            result = evaluator.eval(self.text, previously_parsed=self._tree)
        except InvalidExpression as err:  # the check lets nothing through that could fail
            raise UsageError(f"use_when: {shown(self.text)} cannot be evaluated: {err}") from err
        if not isinstance(result, bool):
            raise UsageError(
                f"use_when: {shown(self.text)} gave {result!r} for {target}, not true or false",
                hint=_GRAMMAR,
            )
        return result


def shown(text: str) -> str:
    """An expression (or part of one) in a message: quoted, control characters escaped, cut."""
    cut = text[:_SHOWN_LENGTH]
    return repr(cut) + ("..." if len(text) > _SHOWN_LENGTH else "")


def _fields(triple: Triple) -> SimpleNamespace:
    """The object `target` or `host` names: the fields and nothing else."""
    return SimpleNamespace(
        os=triple.os, arch=triple.arch, env=triple.env, vendor=triple.vendor, triple=str(triple)
    )


class _Checker:
    """Parse and check one expression, locating each problem in the text as written."""

    def __init__(self, text: str, prefix: str) -> None:
        # Windows line ends in a multi-line TOML string are one line break, as Python reads them.
        self.text = text.replace("\r\n", "\n")
        self.prefix = prefix
        # The parser refuses leading indentation, so it reads the text without it; positions
        # are put back into the text as written.
        self.source = self.text.strip()
        self.lead = len(self.text) - len(self.text.lstrip())
        self.lines = self.source.split("\n")

    def check(self) -> ast.expr:
        self._check_characters()
        try:
            tree = ast.parse(self.source, mode="eval").body
        except SyntaxError as err:
            raise self._syntax_error(err) from None
        kind = self._kind(tree)
        if kind != _BOOLEAN:
            raise self._refuse(
                tree,
                f"{shown(self._segment(tree))} at {_WHERE} is {kind}, not true or false",
                hint=f"compare it, e.g. {self._segment(tree)} == ..." if kind == _STRING else None,
            )
        return tree

    # --- Before parsing: length and characters.

    def _check_characters(self) -> None:
        if not self.source:
            raise UsageError(
                f"{self.prefix}empty expression",
                hint="write a condition such as target.os != host.os, or true to build every "
                "target in a container",
            )
        if len(self.text) > MAX_USE_WHEN_LENGTH:
            raise UsageError(
                f"{self.prefix}expression is too long ({len(self.text)} characters, at most "
                f"{MAX_USE_WHEN_LENGTH})",
                hint="use_when is one condition, e.g. target.os != host.os",
            )
        for index, char in enumerate(self.text):
            if (ord(char) < 32 and char not in "\t\n") or 127 <= ord(char) < 160:
                raise UsageError(
                    f"{self.prefix}control character {char!r} at {self._where(index)}",
                    hint="write the expression on one line of plain text",
                )

    # --- Positions.

    def _where(self, index: int) -> str:
        """Say where a character of the text (0-based) is: "column 3", or "line 2, column 3"."""
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return f"column {column}" if "\n" not in self.text else f"line {line}, column {column}"

    def _index(self, lineno: int, col_offset: int) -> int:
        """The character index in the text of an ast position (whose column counts UTF-8 bytes)."""
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        chars = len(line.encode("utf-8")[:col_offset].decode("utf-8", "ignore"))
        return self.lead + sum(len(before) + 1 for before in self.lines[: lineno - 1]) + chars

    def _segment(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.source, node) or ""

    def _refuse(self, node: ast.expr, message: str, *, hint: str | None = None) -> UsageError:
        """A UsageError for `node`; `_WHERE` in `message` becomes its position."""
        where = self._where(self._index(node.lineno, node.col_offset))
        return UsageError(self.prefix + message.replace(_WHERE, where), hint=hint or _GRAMMAR)

    def _syntax_error(self, err: SyntaxError) -> UsageError:
        """Python's wording, at its position (its offset counts characters, from 1)."""
        lineno = err.lineno or 1
        line = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else ""
        # An offset of 0, or one past the line, means "at the end": the expression stops short.
        offset = err.offset if err.offset and 0 < err.offset <= len(line) else len(line) + 1
        index = self.lead + sum(len(before) + 1 for before in self.lines[: lineno - 1]) + offset - 1
        found = line[offset - 1 :]
        reason = err.msg
        if found.startswith("=") and not found.startswith("=="):
            reason = "'=' is not a comparison (use == or !=)"
        at = f" (at {shown(found)})" if found else " (at the end of the expression)"
        return UsageError(
            f"{self.prefix}syntax error at {self._where(index)}: {reason}{at}", hint=_GRAMMAR
        )

    # --- The grammar, as the kind of value each part has.

    def _kind(self, node: ast.expr) -> str:
        """The kind of value `node` has, once every part of it is checked; or a UsageError."""
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Attribute):
            return self._field(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            for value in node.values:
                self._expect(value, _BOOLEAN, f"'{word}' combines conditions")
            return _BOOLEAN
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not):
                symbol = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(node.op)]
                raise self._refuse(node, f"operator '{symbol}' at {_WHERE} is not allowed")
            self._expect(node.operand, _BOOLEAN, "'not' takes a condition")
            return _BOOLEAN
        if isinstance(node, ast.Tuple | ast.List):
            for item in node.elts:
                self._expect(item, _STRING, "a list holds strings")
            return _LIST
        what = _REFUSED.get(type(node), "this")
        raise self._refuse(node, f"{what} {shown(self._segment(node))} at {_WHERE} is not allowed")

    def _expect(self, node: ast.expr, kind: str, why: str) -> None:
        found = self._kind(node)
        if found != kind:
            raise self._refuse(
                node, f"{shown(self._segment(node))} at {_WHERE} is {found}, but {why}"
            )

    def _constant(self, node: ast.Constant) -> str:
        if isinstance(node.value, bool):
            return _BOOLEAN
        if isinstance(node.value, str):
            return _STRING
        raise self._refuse(
            node,
            f"{shown(self._segment(node))} at {_WHERE} is not allowed: values are quoted "
            "strings, true and false",
        )

    def _name(self, node: ast.Name) -> str:
        if node.id in _BOOLEANS:
            return _BOOLEAN
        if node.id in _SUBJECTS:
            raise self._refuse(
                node,
                f"'{node.id}' at {_WHERE} is not a value by itself; use one of its fields: "
                + ", ".join(f"{node.id}.{name}" for name in FIELDS),
            )
        suggestion = difflib.get_close_matches(node.id, NAMES, n=1)
        advice = (
            f" (did you mean {suggestion[0]}?)"
            if suggestion
            else f'; the names are {", ".join(NAMES)}, and strings are quoted: "{node.id}"'
        )
        raise self._refuse(node, f"unknown name {shown(node.id)} at {_WHERE}{advice}")

    def _field(self, node: ast.Attribute) -> str:
        subject = node.value
        if not isinstance(subject, ast.Name):
            raise self._refuse(
                node,
                f"{shown(self._segment(node))} at {_WHERE} is not allowed: only target and "
                f"host have fields ({_FIELD_LIST})",
            )
        if subject.id not in _SUBJECTS:
            self._name(subject)  # an unknown name, with its suggestion
            raise self._refuse(node, f"'{subject.id}' at {_WHERE} has no fields")
        if node.attr not in FIELDS:
            suggestion = difflib.get_close_matches(node.attr, FIELDS, n=1)
            advice = f" (did you mean {subject.id}.{suggestion[0]}?)" if suggestion else ""
            raise self._refuse(
                node,
                f"unknown field {shown(f'{subject.id}.{node.attr}')} at {_WHERE}{advice}; the "
                f"fields are {_FIELD_LIST}",
            )
        return _STRING

    def _compare(self, node: ast.Compare) -> str:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            word = _COMPARISON_WORDS.get(type(op))
            if word is None:
                raise self._operator_refused(left, right)
            if word in ("==", "!="):
                self._expect(left, _STRING, f"'{word}' compares strings")
                self._expect(right, _STRING, f"'{word}' compares strings")
            else:
                self._expect(left, _STRING, f"'{word}' looks for a string in a list")
                if not isinstance(right, ast.Tuple | ast.List):
                    raise self._refuse(
                        right,
                        f"{shown(self._segment(right))} at {_WHERE} is not a list, but "
                        f'\'{word}\' looks for a string in a list, e.g. ("gnu", "musl")',
                    )
                self._kind(right)
            left = right
        return _BOOLEAN

    def _operator_refused(self, left: ast.expr, right: ast.expr) -> UsageError:
        """`<`, `is` and the like: located at the operator, which lies between its operands."""
        start = self._index(left.end_lineno or 1, left.end_col_offset or 0)
        end = self._index(right.lineno, right.col_offset)
        between = self.text[start:end]
        skipped = len(between) - len(between.lstrip(" \t\n)"))
        symbol = " ".join(between.strip(" \t\n()").split())
        return UsageError(
            f"{self.prefix}operator {shown(symbol)} at {self._where(start + skipped)} is not "
            "allowed; compare with ==, !=, in or not in",
            hint=_GRAMMAR,
        )
