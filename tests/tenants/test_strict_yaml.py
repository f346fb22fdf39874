"""The registry's YAML: libyaml and the pure Python parser read the same, and neither crashes.

libyaml is used for speed; the hostile case is text that nests deeply, which crashes
libyaml's recursive composer (a segmentation fault) and must go to the Python parser.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenants import strict_yaml

REGISTRY = Path(__file__).resolve().parents[2] / "tenants" / "registry"

TRICKY = [
    "a: 1\nb: 0o17\nc: 017\nd: 0x1f\ne: 1_000\nf: 1.5e3\ng: .inf\nh: -.nan\n",
    "yes: yes\nno: no\nflag: off\nnull_: ~\nempty:\nstamp: 2026-12-04\n",
    "base: &b {x: 1, y: [1, 2]}\nother:\n  <<: *b\n  z: 3\nalias: *b\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\nquoted: 'it''s'\ndq: \"\\u00e9\\t\"\n",
    "- [a, {b: c}]\n- !!str 12\n- ? complex\n  : key\n",
    "ünïcode: 日本語\nkey with spaces: value # comment\n",
]


def _both(text: str) -> tuple[object, object]:
    return (yaml.load(text, Loader=strict_yaml.StrictLoader),  # noqa: S506 - SafeLoader subclass
            strict_yaml.load(text))


@pytest.mark.parametrize("text", TRICKY)
def test_libyaml_and_python_parse_to_the_same_values(text: str) -> None:
    python, chosen = _both(text)
    assert repr(chosen) == repr(python)  # repr: NaN is not equal to itself


def test_every_file_of_the_sample_registry_parses_the_same_either_way() -> None:
    files = sorted(REGISTRY.glob("*.yaml"))
    assert files
    for path in files:
        python, chosen = _both(path.read_text(encoding="utf-8"))
        assert chosen == python, path.name


def test_ordinary_text_goes_to_libyaml_when_there_is_one() -> None:
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml: the Python parser is the only one")
    assert strict_yaml.loader_for("id: acme\nplan: standard\n") is not strict_yaml.StrictLoader


BROKEN = ["a: [1, 2\n", "a: b: c\n", "a:\n\t- x\n", "key: 'unterminated\n", "- a\nb: c\n",
          "a: *missing\n", "a: !!python/object:os.system x\n", "a: 1\n---\nb: 2\n", "a: @x\n",
          "%YAML 1.3\n---\na: 1\n"]


def _outcome(load: Any, text: str) -> tuple[str, object, object]:
    try:
        return ("value", repr(load(text)), None)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return (type(exc).__name__, str(exc), (mark.line, mark.column) if mark else None)


@pytest.mark.parametrize("text", BROKEN)
def test_what_libyaml_refuses_is_judged_and_worded_by_the_python_parser(text: str) -> None:
    # libyaml's own messages leave out what the Python parser names (the tab, the alias),
    # and it refuses a %YAML 1.3 directive the Python parser reads.
    python = _outcome(lambda t: yaml.load(t, Loader=strict_yaml.StrictLoader), text)  # noqa: S506
    assert _outcome(strict_yaml.load, text) == python


@pytest.mark.parametrize("loader", ["python", "chosen"])
def test_a_key_given_twice_is_refused_with_its_first_line(loader: str) -> None:
    text = "id: acme\nplan: starter\ntier: node\nplan: enterprise\n"
    with pytest.raises(yaml.YAMLError, match=r"duplicate key 'plan' \(first given on line 2\)"):
        if loader == "python":
            yaml.load(text, Loader=strict_yaml.StrictLoader)  # noqa: S506 - SafeLoader subclass
        else:
            strict_yaml.load(text)


@pytest.mark.parametrize("depth", [strict_yaml.C_MAX_FLOW_OPENINGS + 1, 30_000])
def test_text_that_nests_deeply_is_an_error_not_a_crash(depth: int) -> None:
    # In a child process: were it given to libyaml, 30,000 levels kill the process.
    code = ("from tenants import strict_yaml\n"
            f"text = 'a: ' + '[' * {depth} + ']' * {depth}\n"
            "assert strict_yaml.loader_for(text) is strict_yaml.StrictLoader\n"
            "try:\n    strict_yaml.load(text)\nexcept RecursionError:\n    print('RecursionError')\n"
            "else:\n    print('parsed')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,  # noqa: S603
                          cwd=REGISTRY.parents[1], check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("RecursionError" if depth > 1000 else "parsed")


def test_text_too_long_to_bound_its_block_nesting_goes_to_the_python_parser() -> None:
    text = "a: 1\n" + "#" * strict_yaml.C_MAX_TEXT
    assert strict_yaml.loader_for(text) is strict_yaml.StrictLoader
    assert strict_yaml.load(text) == {"a": 1}
