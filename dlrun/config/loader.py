"""Load a config: YAML (safely), includes, command-line overrides, validation.

Every key remembers where it was set (file and line, or the override), so an
error can say where to look (`dlrun.config.explain` words it). The schema class is a
parameter (`dlrun.spec` binds it), so this package never imports the model and data
registries. YAML, a file's or an override's value alike, is parsed once, by libyaml
when it is installed; aliases may expand to a bounded number of values, an alias may not
hold itself, and a key given twice in one mapping is an error. No TensorFlow here.

Example:

```python
loaded = load_config(DlrunConfig, "configs/imdb.yaml", overrides=["train.epochs=4"])
loaded.config.train.epochs   # 4
print(loaded.to_yaml())      # the resolved config, as written to a run
```
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dlrun.config.checks import cross_field_problems, input_problems
from dlrun.config.explain import explain
from dlrun.config.schema import KeyPath, Schema
from dlrun.errors import ConfigError

# yaml.safe_load refuses tags such as !!python/object; say why instead of "syntax error".
UNSAFE_TAG_HINT = (
    "Configs are read with yaml.safe_load, which never builds Python objects or runs code: "
    "write plain values (strings, numbers, lists, mappings) instead."
)
# Values that aliases may add to one file or override: enough for any real use of anchors,
# and far below what a "billion laughs" file asks for.
ALIAS_LIMIT = 10_000
# Characters of an override that a message about its value quotes: the start says which.
OVERRIDE_SHOWN = 120

_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_MAP, _SEQ, _STR = (f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str"))
_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class LoadedConfig:
    """A validated config, the merged raw mapping, and where each key came from."""

    config: Any  # an instance of the schema class it was loaded with (dlrun.spec.DlrunConfig)
    raw: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def resolved(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.resolved())


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, default_flow_style=None, width=100)


def load_config(
    schema: Schema,
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    extra_files: Any = (),
    *,
    inputs: bool = False,
) -> LoadedConfig:
    """Read `path` (then each of `extra_files` layered on top), apply overrides, validate
    against `schema`; with `inputs`, also look at the files the config names."""
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
    return validate(schema, raw, origins, sources, inputs=inputs)


def validate(
    schema: Schema,
    raw: dict[str, Any],
    origins: dict[KeyPath, str] | None = None,
    sources: list[Path] | None = None,
    *,
    inputs: bool = False,
) -> LoadedConfig:
    """Validate a raw mapping (e.g. a sweep trial's config); raise ConfigError if it is wrong.

    `inputs` adds the checks that read files (data paths, a python: builder, the labels).
    """
    origins = origins or {}
    sources = sources or []
    try:
        config = schema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(explain(exc, schema, raw, origins, sources)) from None
    problems = cross_field_problems(config)
    if inputs and not problems:
        problems = input_problems(config)
    if problems:
        where = f" ({sources[0]})" if sources else ""
        raise ConfigError(f"invalid config{where}: " + " ".join(problems))
    return LoadedConfig(config=config, raw=raw, origins=origins, sources=sources)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """`train.epochs=4` -> (("train", "epochs"), 4); values are parsed as YAML, by the same
    path as a config file: the same alias bound, and a key given twice is an error."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"override '{text}' is not of the form key.path=value.",
            hint="Example: dlrun train configs/imdb.yaml train.epochs=4 model.units=[32,32]",
        )
    path = tuple(key.split("."))
    if not value.strip():
        return path, None
    shown = text if len(text) <= OVERRIDE_SHOWN else text[:OVERRIDE_SHOWN] + "..."
    builder = _Builder(f"override '{shown}'", in_file=False)
    parsed = _parse(
        value,
        builder,
        path,
        syntax="the value is not valid YAML ({})",
        hint="Quote strings with spaces; lists are written [1, 2].",
    )
    return path, parsed


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
    builder = _Builder(str(path), in_file=True)
    data = _parse(
        text,
        builder,
        (),
        syntax="YAML syntax error {}",
        hint="Check the indentation and the ':' after each key.",
    )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config must be a mapping of keys (name:, task:, data:, ...), "
            f"not a {type(data).__name__}."
        )
    return data, builder.lines


def _python_parser_error(text: str) -> yaml.YAMLError | None:
    """The pure-Python parser's error for `text`: it words problems better than libyaml's
    ("expected ',' or '}', but got ':'"), and only a broken file pays for a second parse."""
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return exc
    except RecursionError:
        # nesting libyaml refused as too deep: its own error says so
        return None
    return None


def _parse(text: str, builder: _Builder, prefix: KeyPath, *, syntax: str, hint: str) -> Any:
    """Values from YAML `text`, parsed once by libyaml and built by `builder` under the key
    `prefix`: the one way config files and command-line overrides are read. `syntax`
    words a syntax error around its place and problem ("YAML syntax error {}")."""
    try:
        parser = _PARSER(text)
        try:
            node = parser.get_single_node()
        finally:
            parser.dispose()
        return builder.build(node, prefix) if node is not None else None
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"{builder.where}: {_tag_problem(exc)}.", hint=UNSAFE_TAG_HINT) from None
    except yaml.YAMLError as exc:
        problem = _yaml_problem(_python_parser_error(text) or exc)
        raise ConfigError(f"{builder.where}: {syntax.format(problem)}.", hint=hint) from None
    except RecursionError:
        raise ConfigError(f"{builder.where}: the YAML nests too deeply.") from None


class _Builder:
    """Python values from a composed YAML node graph, in one walk that also records the
    line of every key, refuses a key given twice, and bounds what aliases expand to (the
    composer shares an anchored node; building copies it once per alias). `where` names
    the text in messages: a file (whose lines are counted) or a command-line override."""

    def __init__(self, where: str, *, in_file: bool) -> None:
        self.where = where
        self.in_file = in_file
        self.lines: dict[KeyPath, str] = {}
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: set[int] = set()
        # the nodes being built: an alias to one of them would be a value inside itself
        self.open: set[int] = set()
        self.expanded = 0

    def at(self, *lines: int) -> str:
        """', line 5' or ', lines 5 and 9' in a file; nothing in a one-line override."""
        if not self.in_file:
            return ""
        return f", line {lines[0]}" if len(lines) == 1 else f", lines {lines[0]} and {lines[1]}"

    def build(self, node: yaml.Node, prefix: KeyPath, aliased: bool = False) -> Any:
        line = node.start_mark.line + 1
        if id(node) in self.open:
            raise ConfigError(
                f"{self.where}{self.at(line)}: a YAML alias (*name) refers to a value that "
                "holds it, which would never end.",
                hint="Point the alias at a value outside its own anchor (&name).",
            )
        if id(node) in self.seen:
            aliased = True
        self.seen.add(id(node))
        if aliased:
            self.expanded += 1
            if self.expanded > ALIAS_LIMIT:
                raise ConfigError(
                    f"{self.where}{self.at(line)}: YAML aliases (*name) expand to more than "
                    f"{ALIAS_LIMIT:,} values; refusing to build them.",
                    hint="Write the values out, or use fewer and smaller aliases.",
                )
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:
                return node.value
            return self.constructor.construct_object(node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ:
                return [self.build(item, prefix, aliased) for item in node.value]
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP:
                return self._mapping(node, prefix, aliased)
        finally:
            self.open.discard(id(node))
        # !!set, !!omap and anything else: never needed in a config
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag '{node.tag}'",
            node.start_mark,
        )  # fmt: skip

    def _mapping(self, node: yaml.MappingNode, prefix: KeyPath, aliased: bool) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        merged: list[dict[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                value = self.build(value_node, prefix, aliased)
                merged.extend(value if isinstance(value, list) else [value])
                continue
            key = self.build(key_node, prefix, aliased)
            line = key_node.start_mark.line + 1
            try:
                duplicate = key in out
            except TypeError:
                raise ConfigError(
                    f"{self.where}{self.at(line)}: a key must be a plain value, not a "
                    f"{type(key).__name__}."
                ) from None
            path = (*prefix, str(key))
            if duplicate:
                raise ConfigError(
                    f"duplicate key '{'.'.join(path)}' ({self.where}{self.at(lines[key], line)}): "
                    "YAML would keep only the last one.",
                    hint="Merge the two into one, or delete the one you do not mean.",
                )
            lines[key] = line
            self.lines[path] = f"{self.where}{self.at(line)}"
            out[key] = self.build(value_node, path, aliased)
        # `<<: *base` adds the keys this mapping does not set; the first merged mapping wins
        for base in merged:
            if not isinstance(base, dict):
                raise ConfigError(f"{self.where}: '<<' merges mappings only.")
            for key, value in base.items():
                out.setdefault(key, value)
        return out


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
            # values come fresh from one parse and belong to nobody else: no copy needed
            into[key] = value
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
