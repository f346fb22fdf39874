"""YAML for the registry: safe, and a key given twice is an error, not a silent overwrite.

PyYAML's ``safe_load`` keeps the last of two equal keys, so a tenant file with ``plan:``
twice would quietly take the second; in a registry that decides where customers' data
lives, every such file must be refused with the line of the repeated key.

Files are parsed by libyaml when PyYAML has it (about seven times faster than the pure
Python parser: a fleet of thousands of tenant files loads in a tenth of a second instead of
most of a second), except text that could nest deeply: libyaml composes nested collections
by recursion in C with no depth limit, and a file of tens of thousands of ``[`` crashes the
process (a segmentation fault, not an error). Flow collections are the only way to nest
deeply in a small file (block nesting costs indentation: a 64 KiB file holds a few hundred
levels at most, a text of :data:`C_MAX_TEXT` under 1,500), so text longer than that or with
more than :data:`C_MAX_FLOW_OPENINGS` of ``[`` and ``{`` goes to the pure Python parser,
which raises ``RecursionError`` instead. Both build the same values with the same
constructor, and text libyaml refuses is judged again by the Python parser (:func:`load`),
so errors and their messages are the Python parser's; what could still differ is text
libyaml accepts and the Python parser would refuse (both are YAML 1.1 parsers;
tests/tenants/test_strict_yaml.py compares them).
"""

from __future__ import annotations

from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys."""


#: libyaml's parser with the same constructor, when PyYAML was built with it.
_CLoader: type[yaml.CSafeLoader] | None = None
if hasattr(yaml, "CSafeLoader"):
    class _CStrictLoader(yaml.CSafeLoader):
        """:class:`StrictLoader` on libyaml's parser."""

    _CLoader = _CStrictLoader

#: Most ``[`` and ``{`` a text may hold and still go to libyaml (module doc): far more than
#: any registry file has, far fewer levels than libyaml's recursion survives.
C_MAX_FLOW_OPENINGS = 200
#: Longest text that may go to libyaml (module doc); a registry file's limit is 64 KiB.
C_MAX_TEXT = 2**20


def _mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    # loader: StrictLoader or its libyaml twin (no common base but SafeConstructor, which
    # add_constructor's typing does not accept).
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: the base constructor reports it
            break
        if duplicate:
            first = seen[key].start_mark
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r} (first given on line {first.line + 1})", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


for _loader in (StrictLoader, _CLoader):
    if _loader is not None:
        _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def loader_for(text: str) -> type[yaml.SafeLoader] | type[yaml.CSafeLoader]:
    """The loader that parses ``text``: libyaml's unless the text could nest deeply (module doc)."""
    if (_CLoader is None or len(text) > C_MAX_TEXT
            or text.count("[") + text.count("{") > C_MAX_FLOW_OPENINGS):
        return StrictLoader
    return _CLoader


def load(text: str) -> Any:
    r"""Parse one YAML document strictly (duplicate keys raise ``yaml.YAMLError``).

    Text libyaml refuses is read again by the Python parser, whose verdict and message
    stand: its messages say more ("found character '\t' that cannot start any token",
    where libyaml's leaves out which), and a file with an error is rare.
    """
    loader = loader_for(text)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader and CSafeLoader subclasses
    except yaml.YAMLError:
        if loader is StrictLoader:
            raise
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
