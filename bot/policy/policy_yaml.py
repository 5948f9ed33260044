"""Read a policy YAML file and check its shape, reporting errors by key and line.

`yaml.safe_load` forgets where each value came from; a shop editing a file by hand needs
"severity.yml: hazard.words[3] (line 12): ...", so the file is composed into nodes first
and the line of every key and list item is kept beside the plain Python data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import yaml

from bot.policy.errors import PolicyConfigError

Key = Tuple[Union[str, int], ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves an impossible date (2026-13-07) as text.

    PyYAML raises a bare ValueError for it, with no line; as text it reaches the
    checker, which names the key and line like any other bad value.
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def dotted(key: Key) -> str:
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class PolicyFile:
    """A parsed policy file: `data` plus the line of each key, and typed checkers."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise PolicyConfigError(f"{self.path}: cannot read the file ({error.strerror or error})") from error
        self._lines: Dict[Key, int] = {}
        try:
            loader = _Loader(text)
            try:
                node = loader.get_single_node()
                self.data: Any = loader.construct_document(node) if node is not None else None
            finally:
                loader.dispose()
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise PolicyConfigError(f"{self.path}{where}: not valid YAML: {problem}") from error
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, key: Key) -> None:
        self._lines[key] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: Dict[str, int] = {}
            for key_node, value_node in node.value:
                name = str(key_node.value)
                line = key_node.start_mark.line + 1
                if name in seen:
                    # PyYAML silently keeps the last of two equal keys; a shop would never
                    # find out why half its list is ignored.
                    raise PolicyConfigError(
                        f"{self.path}: {dotted(key + (name,))} (line {line}): duplicate key, "
                        f"already given on line {seen[name]}")
                seen[name] = line
                self._index(value_node, key + (name,))
                self._lines[key + (name,)] = line
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self._index(item, key + (position,))

    def line(self, key: Key) -> Optional[int]:
        """The line of `key`, or of its nearest parent the file has (for a missing key)."""
        while True:
            if key in self._lines:
                return self._lines[key]
            if not key:
                return None
            key = key[:-1]

    def error(self, key: Key, message: str) -> PolicyConfigError:
        line = self.line(key)
        where = f" (line {line})" if line is not None else ""
        return PolicyConfigError(f"{self.path}: {dotted(key)}{where}: {message}")

    # Checkers: each returns the value in the shape the caller wants or raises.

    def mapping(self, key: Key, value: Any, required: Collection[str] = (),
                optional: Collection[str] = ()) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"must be a mapping of keys, got {_kind(value)}")
        allowed = set(required) | set(optional)
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                raise self.error(key + (str(name),),
                                 f"unknown key '{name}'; expected one of {', '.join(sorted(allowed))}")
        for name in required:
            if name not in value:
                raise self.error(key, f"missing key '{name}'")
        return value

    def strings(self, key: Key, value: Any) -> Tuple[str, ...]:
        """A non-empty list of non-empty texts."""
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of words, got {_kind(value)}")
        if not value:
            raise self.error(key, "must not be empty; remove the key or list at least one word")
        result: List[str] = []
        for position, item in enumerate(value):
            # A bare number (12315) is a word too; booleans and mappings are mistakes.
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise self.error(key + (position,), f"must be a word, got {_kind(item)}")
            text = str(item).strip()
            if not text:
                raise self.error(key + (position,), "must not be blank")
            result.append(text)
        return tuple(result)

    def integer(self, key: Key, value: Any, minimum: int, maximum: Optional[int] = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {_kind(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            span = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise self.error(key, f"must be {span}, got {value}")
        return value

    def boolean(self, key: Key, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_kind(value)}")
        return value

    def number(self, key: Key, value: Any, minimum: float, maximum: Optional[float] = None,
               minimum_inclusive: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number, got {_kind(value)}")
        too_low = value < minimum if minimum_inclusive else value <= minimum
        if too_low or (maximum is not None and value > maximum):
            low = f"at least {minimum:g}" if minimum_inclusive else f"more than {minimum:g}"
            span = f"{low} and at most {maximum:g}" if maximum is not None else low
            raise self.error(key, f"must be {span}, got {value}")
        return float(value)

    def choices(self, key: Key, value: Any, allowed: Iterable[str]) -> Tuple[str, ...]:
        allowed = tuple(allowed)
        words = self.strings(key, value)
        for position, word in enumerate(words):
            if word not in allowed:
                raise self.error(key + (position,), f"unknown '{word}'; expected one of {', '.join(allowed)}")
        return words


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: f"the text '{value}'",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
