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


# An alias copies a whole value wherever it is used, so nine levels of nine aliases make a few hundred bytes
# stand for 387 million values (the "billion laughs"): loading is refused once aliases have added this many
# values, which is far more than any real configuration repeats. Plain values need no bound: each one is
# written out in the file.
MAX_ALIAS_EXPANSION = 100_000
# Composing, walking and validating a value recurse once per level; far below Python's recursion limit.
MAX_DEPTH = 100


class _TooLarge(Exception):
    """The document is refused before it is expanded; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the second one silently wins otherwise) and bounds the work of
    loading: what aliases expand to, and how deep values nest; an alias inside the value it names is refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> values in it once aliases are expanded
        self._expanded = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:  # the anchored value is still being read: the alias is inside it
                raise _TooLarge(line, f"alias *{event.anchor} is used inside the value it names (a loop)")
            self._expanded += size
            if self._expanded > MAX_ALIAS_EXPANSION:
                raise _TooLarge(line, f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} values "
                                "(an alias bomb?); write the values out instead")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooLarge(line, f"values nest deeper than {MAX_DEPTH} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
    except _TooLarge as exc:
        raise ConfigError([f"{path.name}:{exc.line}: YAML refused: {exc}"]) from None
    except RecursionError:  # MAX_DEPTH keeps this out of reach; never a traceback all the same
        raise ConfigError([f"{path.name}: YAML refused: values nest too deeply"]) from None
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
