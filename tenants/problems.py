"""Registry problems: one specific, printable finding per bad input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

_MAX_VALUE_CHARS = 60


def show_value(value: object) -> str:
    """A short, single-line rendering of a bad value for an error message."""
    text = repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


@dataclass(frozen=True, order=True)
class Problem:
    """What is wrong, where: file, field, the bad value, and what is allowed."""

    file: str
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message} (got {self.value})"


class RegistryInvalid(Exception):
    """The registry cannot be used; nothing may be provisioned from it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__(f"{len(self.problems)} registry problem(s)")


def allowed_fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names allowed where an unknown field ``loc`` was found (its parent's model).

    Walks ``loc`` through nested models, lists and dicts of models, so that a typo in
    ``features`` lists ``features``' fields, not the file's top-level ones.
    """
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            break
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if _is_model(current) else []


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_in(annotation: Any) -> Any:
    """The model class inside ``X``, ``X | None``, ``tuple[X, ...]``, ``dict[str, X]``..."""
    if _is_model(annotation):
        return annotation
    for arg in reversed(get_args(annotation)):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def problems_from_validation(file: str, error: ValidationError,
                             model: type[BaseModel] | Sequence[str]) -> list[Problem]:
    """Turn pydantic's errors into one :class:`Problem` per bad field.

    ``model``: the validated model (unknown fields then list the names allowed at their
    own level), or a fixed list of allowed names.
    """
    problems = []
    for err in error.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = (allowed_fields_at(model, err["loc"]) if isinstance(model, type)
                       else sorted(model))
            message = f"unknown field; allowed fields are {allowed}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(file, field, show_value(err.get("input")), message))
    return problems
