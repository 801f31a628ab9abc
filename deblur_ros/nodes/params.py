"""Node parameters from one table: declaration, type/range checks, ``--help`` text.

Why not rclpy's typed descriptors alone: launch passes ``rate:=5`` as an INTEGER, and a
parameter declared DOUBLE then dies in ``declare_parameter`` with a 20-line traceback;
a wrong type or range anywhere does the same. Every parameter here is declared with
``dynamic_typing`` and checked by :func:`check_value`, so an integer is taken for a
double, and any bad value is one line naming the parameter, the value and what is
allowed, both at start-up and on a later ``ros2 param set``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

KINDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


class ParameterError(ValueError):
    """A parameter value a node cannot use; the message is one line for the user."""


@dataclass(frozen=True)
class Param:
    """One node parameter: its default fixes its kind (bool, int, float or str)."""

    name: str
    default: bool | int | float | str
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = True
    # Checked when the value is used (e.g. at configure) rather than at declaration.
    check_choices_later: bool = False

    @property
    def kind(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        text = KINDS[self.kind]
        if self.low is not None and self.high is not None:
            text += f" from {_num(self.low)} to {_num(self.high)}"
        elif self.low is not None:
            text += f" >= {_num(self.low)}"
        return text


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_value(param: Param, value: Any, *, choices: bool = True) -> bool | int | float | str:
    """The value converted to the parameter's kind, or ParameterError saying what is allowed.

    An integer is accepted for a number (launch types ``5`` as INTEGER); nothing else is
    converted, so ``source:=0`` (an integer) is refused rather than guessed at.
    """
    kind = param.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        hint = ""
        if kind is str and isinstance(value, int | float | bool):
            hint = f" (quote it to pass text: {param.name}:=\"'{_show(value)}'\")"
        raise ParameterError(
            f"parameter {param.name}={_show(value)} ({_type_name(value)}) is not valid: "
            f"expected {param.allowed()}{hint}")
    out_of_range = (kind in (int, float) and (
        (param.low is not None and value < param.low)
        or (param.high is not None and value > param.high)
        or value != value))  # NaN
    if out_of_range or (choices and param.choices and value not in param.choices):
        raise ParameterError(
            f"parameter {param.name}={_show(value)} is not valid: expected {param.allowed()}")
    return value


def _type_name(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list | tuple):
        return "a list"
    return {bool: "a boolean", int: "an integer", float: "a number",
            str: "a string"}.get(type(value), type(value).__name__)


def declare(node: Node, params: Sequence[Param]) -> dict[str, Any]:
    """Declare every parameter, check the start-up values, keep checking later sets.

    Returns the converted values (5 -> 5.0); read numbers later with :func:`number`.
    """
    table = {p.name: p for p in params}
    for p in params:
        node.declare_parameter(p.name, p.default, ParameterDescriptor(
            description=p.description, read_only=p.read_only, dynamic_typing=True,
            additional_constraints=p.allowed()))
    values: dict[str, Any] = {}
    for p in params:
        raw = node.get_parameter(p.name).value
        values[p.name] = check_value(p, raw, choices=not p.check_choices_later)

    def on_set(changes: list[Parameter]) -> SetParametersResult:
        for change in changes:
            spec = table.get(change.name)
            if spec is None:
                continue
            try:
                check_value(spec, change.value, choices=not spec.check_choices_later)
            except ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return values


def number(node: Node, name: str) -> float:
    """A declared number parameter as float, whether it was set as INTEGER or DOUBLE."""
    return float(node.get_parameter(name).value)


def wants_help(args: Sequence[str]) -> bool:
    """``-h``/``--help`` among the program's own arguments (not inside ``--ros-args``)."""
    own: list[str] = []
    inside_ros = False
    for arg in list(args)[1:]:
        if arg == "--ros-args":
            inside_ros = True
        elif arg in ("--", "--end-ros-args"):
            inside_ros = False
        elif not inside_ros:
            own.append(arg)
    return any(arg in ("-h", "--help") for arg in own)


def usage(program: str, summary: str, params: Sequence[Param], example: str) -> str:
    """The ``--help`` text: every parameter with its default, and a command line to copy."""
    lines = [f"usage: {program} [--ros-args -p NAME:=VALUE ...]", "",
             *textwrap.wrap(summary, 88), "", "parameters (NAME:=DEFAULT, what is allowed):"]
    for p in params:
        default = _as_arg(p.default)
        lines.append(f"  {p.name}:={default}  ({p.allowed()})")
        lines += textwrap.wrap(p.description, 88, initial_indent=" " * 6,
                               subsequent_indent=" " * 6)
    lines += ["", "example:", f"  {program} --ros-args {example}"]
    return "\n".join(lines)


def _as_arg(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "''" if value == "" else str(value)
