"""Explain a config's validation errors: which key, where it was set, what would fit.

pydantic's errors name a location in the schema (`model.mlp.units.0`) in words for
programmers. `explain` turns them into one line per problem (the first three) that
names the key as the config writes it (`model.units.0`: no tag of a union member), the
file and line or the command-line override that set it, and what would be right: the
keys allowed there (those of the config's own model kind or data source), a
did-you-mean for a near miss, the section a misplaced key belongs in, or the kind a
key belongs to ("'filters' is a convnet key; this model is mlp"), or how many values a
list of the wrong length should hold (`image_size: [height, width]`). The loader calls it;
no TensorFlow here.

Example:

```python
try:
    config = schema.model_validate(raw)
except ValidationError as exc:
    raise ConfigError(explain(exc, schema, raw, origins, sources)) from None
```
"""

from __future__ import annotations

import difflib
import reprlib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dlrun.config.schema import (
    KeyPath,
    Schema,
    annotation_types,
    other_member_hint,
    section_in,
    union_key,
    union_members,
    union_tag,
    without_tags,
)

# an error shows a bounded excerpt of a wrong value, however large the value is
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 200
_SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 10, 4, 3


def explain(
    exc: ValidationError,
    schema: Schema,
    raw: dict[str, Any],
    origins: dict[KeyPath, str],
    sources: list[Path],
) -> str:
    walk = _Walk(schema, raw)
    located = [(walk.data_path(err["loc"]), err) for err in exc.errors()]
    # A union (`float | list[float]`) reports one error per member. When one member got
    # further into the value (a list with a bad item), only that deeper error is useful.
    paths = {path for path, _ in located}
    groups: dict[KeyPath, list[dict[str, Any]]] = {}
    for path, err in located:
        if not any(other[: len(path)] == path and len(other) > len(path) for other in paths):
            groups.setdefault(path, []).append(err)
    messages = [_explain_one(path, errs, walk, origins, sources) for path, errs in groups.items()]
    if len(messages) > 3:
        messages = [*messages[:3], f"({len(messages) - 3} more problems not shown)"]
    return "\n".join(messages)


def _explain_one(
    path: KeyPath,
    errs: list[dict[str, Any]],
    walk: _Walk,
    origins: dict[KeyPath, str],
    sources: list[Path],
) -> str:
    err = errs[0]
    dotted = ".".join(str(p) for p in path)
    where = _where(path, origins, sources)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = path[:-1]
        allowed = walk.allowed_keys(parent)
        suggestion = walk.did_you_mean(str(path[-1]), parent, allowed)
        parent_name = ".".join(map(str, parent)) or "the top level"
        return (
            f"unknown key '{dotted}' ({where}).{suggestion} "
            f"Keys allowed in {parent_name}{walk.member_note(parent)}: {', '.join(allowed)}."
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _explain_tag(path, walk, origins, sources)
    length = walk.fixed_length(path)
    if length is not None and (
        kind in ("too_short", "too_long", "tuple_type")
        or kind == "missing"
        and isinstance(err["loc"][-1], int)
    ):
        # pydantic calls a short list "missing" its last item: say what the key takes
        got = walk.value(path)
        return (
            f"'{dotted}' ({where}): should be a list of {length} values{walk.help(path)}; "
            f"got {_SHORT.repr(got)}."
        )
    if kind == "missing":
        return f"missing key '{dotted}' ({where}): add it to the config" + walk.help(path) + "."
    got = err.get("input")
    shown = _SHORT.repr(got) if not isinstance(got, dict) else "a mapping"
    if kind == "model_type":
        # pydantic says "a valid dictionary or instance of TrainConfig": name the keys instead
        keys = walk.allowed_keys(path)
        named = (
            f" Did you mean '{dotted}.name={got}'?"
            if "name" in keys and isinstance(got, str)
            else ""
        )
        return (
            f"'{dotted}' ({where}): should be a mapping of keys ({', '.join(keys)}); "
            f"got {shown}.{named}"
        )
    if len(errs) > 1:
        # "a valid number, unable to parse ..." + "a valid list" -> "a valid number or a valid list"
        expected = [e["msg"].split(",")[0].removeprefix("Input should be ") for e in errs]
        return f"'{dotted}' ({where}): should be {' or '.join(expected)}; got {shown}."
    hint = ""
    if kind == "literal_error" and isinstance(got, str):
        close = difflib.get_close_matches(got, walk.choices(path), n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"'{dotted}' ({where}): {err['msg'][0].lower() + err['msg'][1:]}; got {shown}.{hint}"


def _explain_tag(
    path: KeyPath, walk: _Walk, origins: dict[KeyPath, str], sources: list[Path]
) -> str:
    """`data.source` or `model.kind` names no registered source or kind."""
    info = walk.field(path)
    assert info is not None
    key = union_key(info) or ""
    members = union_members(info) or {}
    keyed = (*path, key)
    dotted = ".".join(map(str, keyed))
    where = _where(keyed, origins, sources)
    names = [_display(tag, cls, key) for tag, cls in members.items()]
    value = walk.value(keyed)
    if value is None:
        return (
            f"missing key '{dotted}' ({where}): add it to the config (one of: {', '.join(names)})."
        )
    if not isinstance(value, str):
        return f"'{dotted}' ({where}): should be a string; got {_SHORT.repr(value)}."
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown {dotted} '{value}' ({where}).{hint} Available: {', '.join(names)}."


def _display(tag: str, cls: type[BaseModel], key: str) -> str:
    """How a member is written in a config: its tag, or the example of a pattern-like key."""
    info = cls.model_fields[key]
    if typing.get_origin(info.annotation) is typing.Literal or not info.examples:
        return tag
    return str(info.examples[0])


# pydantic names the member of a union (`float | list[float]`) in the error location
_UNION_TAGS = {"float", "int", "str", "bool", "none", "dict", "list"}


class _Walk:
    """The schema walked alongside the raw mapping: a discriminated union (`model`, `data`)
    resolves to the member the raw value selects, so keys are those of the config's kind."""

    def __init__(self, schema: Schema, raw: dict[str, Any]) -> None:
        self.schema, self.raw = schema, raw

    def value(self, path: KeyPath) -> Any:
        node: Any = self.raw
        for part in path:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def field(self, path: KeyPath) -> Any:
        """The FieldInfo at `path`, or None."""
        cls = self.section(path[:-1])
        return cls.model_fields.get(str(path[-1])) if cls and path else None

    def section(self, path: KeyPath) -> type[BaseModel] | None:
        cls: type[BaseModel] = self.schema
        for end, part in enumerate(path):
            info = cls.model_fields.get(str(part))
            if info is None:
                return None
            found = section_in(info, self.value(path[: end + 1]))
            if found is None or found is dict:
                return None
            cls = found
        return cls

    def allowed_keys(self, parent: KeyPath) -> list[str]:
        cls = self.section(parent)
        return list(cls.model_fields) if cls else []

    def member_note(self, parent: KeyPath) -> str:
        """' (mlp)' when `parent` is a union, so the key list says whose keys it is."""
        info = self.field(parent)
        tag = union_tag(info, self.value(parent)) if info is not None else None
        return f" ({tag})" if tag else ""

    def did_you_mean(self, key: str, parent: KeyPath, allowed: list[str]) -> str:
        # a key that another kind has, exactly, says more than a near spelling of ours
        info = self.field(parent)
        if info is not None and union_members(info):
            other = other_member_hint(key, ".".join(map(str, parent)), info, self.value(parent))
            if other:
                return other
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            return f" Did you mean '{'.'.join((*map(str, parent), close[0]))}'?"
        for section in ("data", "model", "train", "data.validation", "train.optimizer"):
            section_path = tuple(section.split("."))
            if section_path != parent and key in self.allowed_keys(section_path):
                return f" '{key}' belongs in '{section}': did you mean '{section}.{key}'?"
        return ""

    def choices(self, path: KeyPath) -> list[str]:
        info = self.field(path)
        if info is None or typing.get_origin(info.annotation) is not typing.Literal:
            return []
        return [str(v) for v in typing.get_args(info.annotation)]

    def help(self, path: KeyPath) -> str:
        info = self.field(path)
        if info is not None and info.description:
            return f" ({info.description.rstrip('.')})"
        choices = self.choices(path)
        return f" (one of: {', '.join(choices)})" if choices else ""

    def fixed_length(self, path: KeyPath) -> int | None:
        """How many items the key at `path` takes when it is a fixed-length tuple
        (`image_size: [height, width]`: 2), else None."""
        info = self.field(path)
        if info is None:
            return None
        for member in annotation_types(info.annotation):
            args = typing.get_args(member)
            if typing.get_origin(member) is tuple and Ellipsis not in args:
                return len(args)
        return None

    def data_path(self, loc: tuple[Any, ...]) -> KeyPath:
        """The keys of an error location, without the tags pydantic adds for union members
        (`float | list[float]`, and the kind of a discriminated union)."""
        path: list[Any] = []
        node: Any = self.raw
        for part in without_tags(self.schema, loc, self.raw):
            if (
                isinstance(node, dict)
                and part in node
                or isinstance(node, list)
                and isinstance(part, int)
                and part < len(node)
            ):
                path.append(part)
                node = node[part]
            elif (
                isinstance(node, dict)
                and isinstance(part, str)
                and not any(c in part for c in "[]|")
                and part not in _UNION_TAGS
                and part[:1].islower()
            ):
                # a key that is absent from a mapping: missing or unknown at this level
                path.append(part)
                node = None
        return tuple(path)


def _where(path: KeyPath, origins: dict[KeyPath, str], sources: list[Path]) -> str:
    for end in range(len(path), 0, -1):
        key = tuple(str(p) for p in path[:end] if not isinstance(p, int))
        if key in origins:
            return origins[key]
    return f"in {sources[0]}" if sources else "in the config"
