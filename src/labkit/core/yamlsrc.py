"""YAML loading that remembers where every value came from.

Errors about a playbook or inventory must name the file and line, so we keep a map from
field path (a tuple of keys/indices) to line number while loading with ``SafeLoader``.
Duplicate keys, which PyYAML silently resolves to the last one, are rejected here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from labkit.core.params import suggest
from labkit.errors import ConfigError

Path_ = tuple[str | int, ...]


@dataclass
class Located:
    """A loaded YAML document plus the line of every field path in it."""

    data: Any
    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of the longest prefix of ``path`` that exists in the document."""
        for n in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:n]))
            if line is not None:
                return line
        return None

    def error(
        self,
        message: str,
        path: Path_ = (),
        cls: type[ConfigError] = ConfigError,
    ) -> ConfigError:
        return cls(message, file=self.file, line=self.line_of(path), field=dotted(path) or None)

    def pydantic_error(
        self, exc: Any, root: Any, prefix: Path_ = (), cls: type[ConfigError] = ConfigError
    ) -> ConfigError:
        """``pydantic_error`` of this document."""
        return pydantic_error(self, exc, root, prefix, cls)


def dotted(path: Path_) -> str:
    """('experiments', 2, 'params') -> 'experiments[2].params'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    file=file,
                    line=line,
                    field=dotted((*path, key)),
                )
            seen[key] = line
            lines[(*path, key)] = line
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:str":
                # `on:` or `1:` is the key True or 1 in the data: find its line by that too
                lines.setdefault((*path, yaml.safe_load(key_node.value)), line)
            _walk(value_node, (*path, key), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, file)


def load_text(text: str, file: str) -> Located:
    """Parse ``text`` with ``SafeLoader``; YAML errors become ``ConfigError`` with a line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines, file)
    return Located(data=data, file=file, lines=lines)


def load_file(path: str | Path) -> Located:
    """Read and parse a YAML file; a missing file is a ``ConfigError`` naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(p)) from None
    except IsADirectoryError:
        raise ConfigError("is a folder; expected a YAML file", file=str(p)) from None
    except PermissionError:
        raise ConfigError("cannot be read (permission denied)", file=str(p)) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}: {exc.reason}); "
            "save the file as UTF-8",
            file=str(p),
            line=line,
        ) from None
    return load_text(text, str(p))


def pydantic_error(
    doc: Located, exc: Any, root: Any, prefix: Path_ = (), cls: type[ConfigError] = ConfigError
) -> ConfigError:
    """A pydantic ``ValidationError`` of ``root`` (validated at ``prefix`` in ``doc``) as
    one error naming the file, line and field, and what was expected."""
    errors = exc.errors()
    # a misspelt key explains the required field it leaves missing: name it first
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(err["loc"])
    # drop pydantic's union/model tags such as 'function-after[...]'
    loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p))
    kind = err["type"]
    msg = err["msg"]
    if kind == "extra_forbidden":
        key = loc[-1]
        model_fields = _fields_at(root, loc[:-1])
        hint = suggest(str(key), model_fields) if model_fields else ""
        known = f"; expected one of: {', '.join(model_fields)}" if model_fields else ""
        msg = f"unknown key {key!r}{hint}{known}"
    elif kind == "missing":
        msg = f"required field {loc[-1]!r} is missing"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    else:
        value = err.get("input")
        msg = f"{msg} (got {value!r})" if not isinstance(value, dict) else msg
    return doc.error(msg, (*prefix, *loc), cls)


def _fields_at(root: Any, loc: tuple) -> list[str]:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field_ = model.model_fields.get(part)
        if field_ is None:
            return []
        ann = field_.annotation
        inner = getattr(ann, "__args__", None)
        if inner and isinstance(inner[-1], type) and issubclass(inner[-1], BaseModel):
            model = inner[-1]
        elif inner and isinstance(inner[0], type) and issubclass(inner[0], BaseModel):
            model = inner[0]
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return []
    return list(model.model_fields)
