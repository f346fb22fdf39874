"""Registry problems: one specific, printable finding per bad input."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

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


def problems_from_validation(file: str, error: ValidationError, allowed_fields: object) -> list[Problem]:
    """Turn pydantic's errors into one :class:`Problem` per bad field."""
    problems = []
    for err in error.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown field; allowed fields are {allowed_fields}"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(file, field, show_value(err.get("input")), message))
    return problems
