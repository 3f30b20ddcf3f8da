"""Load a config: YAML (safely), includes, command-line overrides, validation.

Every key remembers where it was set (file and line, or the override), so an
error can say where to look. No TensorFlow here.

Example:

```python
loaded = load_config("configs/imdb.yaml", overrides=["train.epochs=4", "model.units=[32,32]"])
loaded.config.train.epochs   # 4
print(loaded.to_yaml())      # the resolved config, as written to a run
```
"""

from __future__ import annotations

import copy
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dlrun.config.checks import cross_field_problems
from dlrun.config.schema import DlrunConfig, section_in
from dlrun.errors import ConfigError

KeyPath = tuple[str, ...]

# yaml.safe_load refuses tags such as !!python/object; say why instead of "syntax error".
UNSAFE_TAG_HINT = (
    "Configs are read with yaml.safe_load, which never builds Python objects or runs code: "
    "write plain values (strings, numbers, lists, mappings) instead."
)


@dataclass
class LoadedConfig:
    """A validated config, the merged raw mapping, and where each key came from."""

    config: DlrunConfig
    raw: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def resolved(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.resolved())


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def load_config(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    extra_files: list[str | Path] | tuple[str | Path, ...] = (),
) -> LoadedConfig:
    """Read `path` (then each of `extra_files` layered on top), apply overrides, validate."""
    raw: dict[str, Any] = {}
    origins: dict[KeyPath, str] = {}
    sources: list[Path] = []
    for file in (path, *extra_files):
        data, where = _read_with_includes(Path(file), stack=())
        _merge(raw, data, origins, where, ())
        sources.append(Path(file))
    for override in overrides:
        key, value = parse_override(override)
        set_path(raw, key, value)
        # sections the override creates are its own, not the file's that holds their parent
        for end in range(1, len(key)):
            origins.setdefault(key[:end], f"command-line override '{override}'")
        origins[key] = f"command-line override '{override}'"
        for sub in _paths(value, key):
            origins[sub] = f"command-line override '{override}'"
    return validate(raw, origins, sources)


def validate(
    raw: dict[str, Any],
    origins: dict[KeyPath, str] | None = None,
    sources: list[Path] | None = None,
) -> LoadedConfig:
    """Validate a raw mapping (e.g. a sweep trial's config); raise ConfigError if it is wrong."""
    origins = origins or {}
    sources = sources or []
    try:
        config = DlrunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, raw, origins, sources)) from None
    problems = cross_field_problems(config)
    if problems:
        where = f" ({sources[0]})" if sources else ""
        raise ConfigError(f"invalid config{where}: " + " ".join(problems))
    return LoadedConfig(config=config, raw=raw, origins=origins, sources=sources)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """`train.epochs=4` -> (("train", "epochs"), 4); values are parsed as YAML."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"override '{text}' is not of the form key.path=value.",
            hint="Example: dlrun train configs/imdb.yaml train.epochs=4 model.units=[32,32]",
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            f"override '{text}': {_tag_problem(exc)}.", hint=UNSAFE_TAG_HINT
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"override '{text}': the value is not valid YAML ({_yaml_problem(exc)}).",
            hint="Quote strings with spaces; lists are written [1, 2].",
        ) from None
    return tuple(key.split(".")), parsed


def set_path(raw: dict[str, Any], key: KeyPath, value: Any) -> None:
    """Set a dotted key in a nested mapping, creating sections on the way."""
    node = raw
    for part in key[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[key[-1]] = copy.deepcopy(value)


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """Safely parse one YAML file into a mapping and the line of every key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {path}", hint="Check the path, relative to this directory."
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"{path}: {_tag_problem(exc)}.", hint=UNSAFE_TAG_HINT) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}: YAML syntax error {_yaml_problem(exc)}.",
            hint="Check the indentation and the ':' after each key.",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config must be a mapping of keys (name:, task:, data:, ...), "
            f"not a {type(data).__name__}."
        )
    lines: dict[KeyPath, str] = {}
    _record_lines(node, (), path, lines)
    return data, lines


def _read_with_includes(
    path: Path, stack: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(str(p) for p in (*stack, resolved))
        raise ConfigError(f"include cycle: {chain}")
    data, lines = read_yaml(path)
    includes = data.pop("include", None)
    if includes is None:
        return data, lines
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(f"{path}: 'include' must be a file name or a list of file names.")
    merged: dict[str, Any] = {}
    origins: dict[KeyPath, str] = {}
    for include in includes:
        base, base_lines = _read_with_includes(path.parent / include, (*stack, resolved))
        _merge(merged, base, origins, base_lines, ())
    _merge(merged, data, origins, lines, ())
    return merged, origins


def _merge(
    into: dict[str, Any],
    data: dict[str, Any],
    origins: dict[KeyPath, str],
    where: dict[KeyPath, str],
    prefix: KeyPath,
) -> None:
    """Deep-merge `data` over `into`: mappings merge, everything else replaces."""
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origins, where, path)
        else:
            into[key] = copy.deepcopy(value)
        if path in where:
            origins[path] = where[path]
        for sub in _paths(value, path):
            if sub in where:
                origins[sub] = where[sub]


def _paths(value: Any, prefix: KeyPath) -> list[KeyPath]:
    if not isinstance(value, dict):
        return []
    found = []
    for key, child in value.items():
        path = (*prefix, str(key))
        found.append(path)
        found.extend(_paths(child, path))
    return found


def _record_lines(node: yaml.Node, prefix: KeyPath, path: Path, out: dict[KeyPath, str]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out[key] = f"{path}, line {key_node.start_mark.line + 1}"
            _record_lines(value_node, key, path, out)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _tag_problem(exc: yaml.constructor.ConstructorError) -> str:
    """'at line 1, column 7: the tag '!!python/object' is not allowed' from a constructor error."""
    problem = exc.problem or ""
    tag = problem.split("'")[1] if problem.count("'") >= 2 else "this tag"
    tag = tag.replace("tag:yaml.org,2002:", "!!")
    mark = exc.problem_mark
    where = f"at line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}the tag '{tag}' is not allowed"


def _explain(
    exc: ValidationError, raw: dict[str, Any], origins: dict[KeyPath, str], sources: list[Path]
) -> str:
    located = [(_data_path(err["loc"], raw), err) for err in exc.errors()]
    # A union (`float | list[float]`) reports one error per member. When one member got
    # further into the value (a list with a bad item), only that deeper error is useful.
    paths = {path for path, _ in located}
    groups: dict[KeyPath, list[dict[str, Any]]] = {}
    for path, err in located:
        if not any(other[: len(path)] == path and len(other) > len(path) for other in paths):
            groups.setdefault(path, []).append(err)
    messages = [_explain_one(path, errs, origins, sources) for path, errs in groups.items()]
    if len(messages) > 3:
        messages = [*messages[:3], f"({len(messages) - 3} more problems not shown)"]
    return "\n".join(messages)


def _explain_one(
    path: KeyPath, errs: list[dict[str, Any]], origins: dict[KeyPath, str], sources: list[Path]
) -> str:
    err = errs[0]
    dotted = ".".join(str(p) for p in path)
    where = _where(path, origins, sources)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = path[:-1]
        allowed = _allowed_keys(parent)
        suggestion = _did_you_mean(str(path[-1]), parent, allowed)
        parent_name = ".".join(map(str, parent)) or "the top level"
        return (
            f"unknown key '{dotted}' ({where}).{suggestion} "
            f"Keys allowed in {parent_name}: {', '.join(allowed)}."
        )
    if kind == "missing":
        return f"missing key '{dotted}' ({where}): add it to the config" + _field_help(path) + "."
    got = err.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a mapping"
    if kind == "model_type":
        # pydantic says "a valid dictionary or instance of TrainConfig": name the keys instead
        keys = _allowed_keys(path)
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
    return f"'{dotted}' ({where}): {err['msg'][0].lower() + err['msg'][1:]}; got {shown}."


# pydantic names the member of a union (`float | list[float]`) in the error location
_UNION_TAGS = {"float", "int", "str", "bool", "none", "dict", "list"}


def _data_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> KeyPath:
    """Drop pydantic's union-member tags from an error location."""
    path: list[Any] = []
    node: Any = raw
    for part in loc:
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


def _section_class(path: KeyPath) -> type[BaseModel] | None:
    cls: type[BaseModel] = DlrunConfig
    for part in path:
        info = cls.model_fields.get(str(part))
        if info is None:
            return None
        found = section_in(info.annotation)
        if found is None or found is dict:
            return None
        cls = found
    return cls


def _allowed_keys(parent: KeyPath) -> list[str]:
    cls = _section_class(parent)
    return list(cls.model_fields) if cls else []


def _did_you_mean(key: str, parent: KeyPath, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f" Did you mean '{'.'.join((*map(str, parent), close[0]))}'?"
    for section in ("data", "model", "train", "data.validation", "train.optimizer"):
        section_path = tuple(section.split("."))
        if section_path != parent and key in _allowed_keys(section_path):
            return f" '{key}' belongs in '{section}': did you mean '{section}.{key}'?"
    return ""


def _field_help(path: KeyPath) -> str:
    cls = _section_class(path[:-1])
    info = cls.model_fields.get(str(path[-1])) if cls else None
    if info is not None and info.description:
        return f" ({info.description})"
    if info is not None and typing.get_origin(info.annotation) is typing.Literal:
        return f" (one of: {', '.join(map(str, typing.get_args(info.annotation)))})"
    return ""
