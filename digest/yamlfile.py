"""Load a YAML file keeping the line of every value, so that errors can name file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

Loc = tuple[str | int, ...]


class LocatedYaml:
    """A parsed YAML document plus the 1-based line of every path in it."""

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """Line of the deepest existing prefix of `loc` (a missing field points at its parent)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def where(self, loc: Sequence[str | int]) -> str:
        """`sources.yaml:14: sources[2].url` for a problem at `loc`."""
        line = self.line_of(loc)
        place = f"{self.path.name}:{line}" if line else self.path.name
        return f"{place}: {format_loc(loc)}" if loc else place


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # a key with a line break or a control character is shown quoted: an error stays one line
            name = part if part.isprintable() and part.strip() == part and part else repr(part)
            out += f".{name}" if out else name
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the second one silently wins otherwise)."""


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], loader: yaml.SafeLoader, problems: list[str],
          path: Path) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                # YAML 1.1 reads `no`, `on`, `yes`, `off` and numbers as non-strings: as a key it is the word
                # the user typed (an unknown or misspelt field), not a boolean
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
            if key in result:
                problems.append(f"{path.name}:{key_node.start_mark.line + 1}: {format_loc((*loc, key))}: "
                                "duplicate key")
            child = (*loc, key)
            result[key] = _walk(value_node, child, lines, loader, problems, path)
            # a missing-field error points at the key line, not the value's
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, (*loc, i), lines, loader, problems, path) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path) -> LocatedYaml:
    """Parse `path`; raise ConfigError naming the file and line on a read or syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    problems: list[str] = []
    lines: dict[Loc, int] = {}
    loader: _UniqueKeyLoader | None = None
    try:
        loader = _UniqueKeyLoader(text)
        node = loader.get_single_node()
        data = {} if node is None else _walk(node, (), lines, loader, problems, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ConfigError([f"{path.name}{line}: YAML syntax error: {what}"]) from None
    except yaml.reader.ReaderError as exc:
        lineno = text.count("\n", 0, max(0, exc.position)) + 1
        raise ConfigError([f"{path.name}:{lineno}: YAML syntax error: character {exc.character!r} is not "
                           "allowed"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path.name}: YAML error: {' '.join(str(exc).split())}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if problems:
        raise ConfigError(problems)
    return LocatedYaml(path, data, lines)
