"""Reading definition files: safe, plain YAML in, validated `Definition`s out, every refusal with its line.

A definition file comes from a union officer's editor or an upload, so it is treated
as untrusted text. It is read as plain data only: no tag may construct an object,
aliases and size are bounded (billion-laughs), a key may appear once per mapping,
and scalars follow the YAML 1.2 core schema so `on`, `no` and `06-30` stay text
and `2026-06-30` is a string rather than a date. Pydantic's errors are rewritten as
`FILE:LINE: field.path: message`, the line found from the composed node tree.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from duban.engine.errors import DefinitionError, Problem
from duban.engine.language.model import Definition, Due, Trigger
from duban.engine.validation import dotted as _dotted
from duban.engine.validation import message_of as _message
from duban.engine.validation import show as _show

MAX_FILE_BYTES = 256 * 1024
MAX_ALIASES = 50
# Aliases are counted where they are written; this bounds what they expand to,
# since 50 well-nested aliases can still multiply into millions of values.
MAX_VALUES = 10_000
MAX_DEPTH = 32

Loc = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"


@dataclass(frozen=True)
class LoadedDefinition:
    """A validated definition with where it came from and a digest of its meaning."""

    definition: Definition
    path: str
    text: str
    digest: str


class _Refused(Exception):
    """One problem that stops reading a file (bad YAML, a forbidden tag, a bound passed)."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.field = field
        self.message = message


# --- composing: SafeLoader's parser with the YAML 1.2 core schema and bounds -------


class _Composer(yaml.SafeLoader):
    """Composes one document into nodes; never constructs Python objects from tags."""

    # YAML 1.1 reads on/off/yes/no as booleans, 1:30 as 90 and 2026-06-30 as a date;
    # a union officer writing `due: {on: "06-30"}` or `tags: [no]` means text.
    # PyYAML's own API: a class-level table that add_implicit_resolver fills below.
    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(line, "", f"more than {MAX_ALIASES} aliases (*name) in one file")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(line, "", f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_Composer.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Composer.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_Composer.add_implicit_resolver(_INT, _INT_RE, list("-+0123456789"))
_Composer.add_implicit_resolver(_FLOAT, _FLOAT_RE, list("-+0123456789."))


def _compose(text: str) -> Node | None:
    try:
        # The reader checks characters as it is built, so a control character fails here.
        loader = _Composer(text)
    except yaml.YAMLError as exc:
        raise _Refused(1, "", f"not valid YAML: {exc}") from None
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or "not valid YAML"
        context = f" ({exc.context})" if exc.context and exc.context != exc.problem else ""
        if "'\\t'" in problem:
            problem, context = "a tab cannot indent YAML; use spaces", ""
        raise _Refused(line, "", f"not valid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise _Refused(1, "", f"not valid YAML: {exc}") from None
    finally:
        loader.dispose()


# --- building plain data from nodes, remembering each value's line ------------------


class _Builder:
    """Turns a node tree into dicts, lists and scalars, and records the line of every path."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.values = 0
        self._open: set[int] = set()

    def build(self, node: Node, loc: Loc) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            message = f"aliases expand the file to more than {MAX_VALUES} values"
            raise _Refused(node.start_mark.line + 1, _dotted(loc[:1]), message)
        if isinstance(node, ScalarNode):
            return _scalar(node, loc)
        if id(node) in self._open:
            raise _Refused(
                node.start_mark.line + 1, _dotted(loc), "an alias refers to the list or mapping it is inside"
            )
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, loc)
            return self._mapping(node, loc)  # type: ignore[arg-type]
        finally:
            self._open.discard(id(node))

    def _sequence(self, node: SequenceNode, loc: Loc) -> list[Any]:
        _check_tag(node, loc, _SEQ)
        items = []
        for index, item in enumerate(node.value):
            self.lines.setdefault((*loc, index), item.start_mark.line + 1)
            items.append(self.build(item, (*loc, index)))
        return items

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        _check_tag(node, loc, _MAP)
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise _Refused(line, _dotted(loc), "a key must be plain text, not a list or mapping")
            _check_tag(key_node, loc, _STR, _INT, _FLOAT, _BOOL, _NULL)
            # A key is always its text: `on:` is the key "on", `1:` the key "1".
            key = key_node.value
            if key == "<<":
                raise _Refused(line, _dotted(loc), "merge keys (<<) are not supported; write the fields out")
            if key in result:
                raise _Refused(
                    line, _dotted((*loc, key)), f"duplicate key {key!r} (first at line {first_line[key]})"
                )
            first_line[key] = line
            self.lines.setdefault((*loc, key), line)
            result[key] = self.build(value_node, (*loc, key))
        return result


def _check_tag(node: Node, loc: Loc, *allowed: str) -> None:
    if node.tag not in allowed:
        shown = node.tag.replace(_YAML, "!!")
        raise _Refused(
            node.start_mark.line + 1,
            _dotted(loc),
            f"the tag {shown} is not allowed; a definition is plain YAML (text, numbers, true/false, lists, mappings)",
        )


def _scalar(node: ScalarNode, loc: Loc) -> Any:
    _check_tag(node, loc, _STR, _INT, _FLOAT, _BOOL, _NULL)
    value: str = node.value
    tag = node.tag
    # An explicit !!int "x" reaches here without the resolver's check, so check again.
    if tag == _STR:
        return value
    if tag == _NULL and re.fullmatch(r"~|null|Null|NULL|", value):
        return None
    if tag == _BOOL and re.fullmatch(r"true|True|TRUE|false|False|FALSE", value):
        return value.lower() == "true"
    if tag == _INT and _INT_RE.match(value):
        # Base 0 reads the 0o/0x prefixes; plain digits go through int() so 0630 is 630.
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if tag == _FLOAT and _FLOAT_RE.match(value):
        return float(value)
    kind = tag.replace(_YAML, "")
    raise _Refused(node.start_mark.line + 1, _dotted(loc), f"{value!r} is not a valid {kind}")


# --- turning pydantic's errors into plain problems ---------------------------------


def _strip_optional(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model a pydantic loc (union member names included) points into, if any."""
    current: Any = Definition
    for part in loc:
        current = _strip_optional(current)
        origin = get_origin(current)
        if origin in (Union, types.UnionType):
            current = next((a for a in get_args(current) if getattr(a, "__name__", None) == part), None)
            if current is None:
                return None
            continue
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict and isinstance(part, str):
            current = get_args(current)[1]
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unknown_field(container: Loc, name: str) -> str:
    model = _model_at(container)
    if model is None:
        return f"unknown field {name!r}"
    known = list(model.model_fields)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}; did you mean {close[0]!r}?"
    return f"unknown field {name!r}; the fields here are {', '.join(known)}"


_UNION_FORMS = {
    "trigger": "assigned, {every: year|half_year|quarter|month|week, times: N} or {event: noun.verb}",
    "due": '{after: P30D}, {workdays: 10}, {on: "06-30"}, end_of_period, '
    "{before_holiday: spring_festival, workdays: 5} or set_at_assignment",
}
_UNION_NOUN = {"trigger": "a trigger", "due": "a deadline (due)"}
_UNION_MEMBERS: dict[str, tuple[type[BaseModel], ...]] = {"trigger": get_args(Trigger), "due": get_args(Due)}

# Definition's whole-file rules raise without a loc; their messages say which field.
_WHOLE_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^due: (?P<rest>.*)$", re.DOTALL), "due"),
    (re.compile(r"^window: (?P<rest>.*)$", re.DOTALL), "window"),
    (re.compile(r"^late_assignment: (?P<rest>.*)$", re.DOTALL), "late_assignment"),
    (
        re.compile(r"^form field (?P<name>[a-z0-9_]+): (?P<rest>.*)$", re.DOTALL),
        "completion.form.{name}.in_period",
    ),
    (re.compile(r"^(?P<rest>a numeric target and times.*)$", re.DOTALL), "completion.target"),
    (re.compile(r"^measures\.(?P<name>[a-z][a-z0-9_]*): (?P<rest>.*)$", re.DOTALL), "measures.{name}"),
]


@dataclass
class _Located:
    loc: Loc
    message: str


def _union_problems(field: str, raw: Any, errors: list[Any]) -> Iterator[_Located]:
    forms = _UNION_FORMS[field]
    members = _UNION_MEMBERS[field]
    if not isinstance(raw, dict):
        yield _Located((field,), f"{_show(raw)} is not {_UNION_NOUN[field]}; write one of {forms}")
        return
    owner = {name for model in members for name in model.model_fields}
    known = [key for key in raw if key in owner]
    if not known:
        for key in raw:
            close = difflib.get_close_matches(key, sorted(owner), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            yield _Located(
                (field, key), f"unknown field {key!r}; {hint}{_UNION_NOUN[field]} is one of {forms}"
            )
        return
    # The form meant is the smallest one holding every known key ({workdays: N} is the
    # plain count, not a before_holiday missing its holiday).
    fitting = [m for m in members if set(known) <= set(m.model_fields)]
    if not fitting:
        keys = " and ".join(known)
        yield _Located((field,), f"{keys} cannot be combined; {_UNION_NOUN[field]} is one of {forms}")
        return
    model = min(fitting, key=lambda m: len(m.model_fields))
    for error in errors:
        loc = tuple(error["loc"])
        if len(loc) < 2 or loc[1] != model.__name__:
            continue
        rest = loc[2:]
        if error["type"] == "extra_forbidden":
            yield _Located((field, *rest), _unknown_field((field, model.__name__), str(rest[-1])))
        else:
            yield _Located((field, *rest), _message(error))


def _problems_of(exc: ValidationError, data: dict[str, Any]) -> list[_Located]:
    found: list[_Located] = []
    union_errors: dict[str, list[Any]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        if (
            loc
            and loc[0] in _UNION_FORMS
            and len(loc) >= 2
            and isinstance(loc[1], str)
            and loc[1][:1].isupper()
        ):
            union_errors.setdefault(str(loc[0]), []).append(error)
            continue
        if not loc:
            found.append(_whole_rule(_message(error)))
            continue
        if error["type"] == "extra_forbidden":
            found.append(_Located(loc, _unknown_field(loc[:-1], str(loc[-1]))))
        else:
            found.append(_field_rule(loc, _message(error)))
    for field, errors in union_errors.items():
        found.extend(_union_problems(field, data.get(field), errors))
    return found


def _empty_unions(data: dict[str, Any]) -> list[_Located]:
    # The mapping forms' only field has a default, so `{}` would quietly mean
    # `assigned` or `end_of_period`; an empty mapping is a slip, not a choice.
    return [
        _Located((field,), f"is empty; {_UNION_NOUN[field]} is one of {_UNION_FORMS[field]}")
        for field in _UNION_FORMS
        if data.get(field) == {}
    ]


def _whole_rule(message: str) -> _Located:
    for pattern, path in _WHOLE_RULES:
        match = pattern.match(message)
        if match:
            groups = match.groupdict()
            dotted = path.format(**groups)
            return _Located(tuple(dotted.split(".")), groups["rest"])
    return _Located((), message)


def _field_rule(loc: Loc, message: str) -> _Located:
    # A nested model's whole-model rule names its field first ("tags_none: ..."): point there.
    model = _model_at(loc)
    head, sep, rest = message.partition(": ")
    if model is not None and sep and head in model.model_fields:
        return _Located((*loc, head), rest)
    return _Located(loc, message)


def _missing_defaults(data: dict[str, Any]) -> list[_Located]:
    """`defaults:` may name only fields the file itself writes: a default is a value shown to the office."""
    named = data.get("defaults")
    if not isinstance(named, list):
        return []
    found = []
    for index, dotted in enumerate(named):
        if not isinstance(dotted, str):
            continue
        current: Any = data
        for part in dotted.split("."):
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                found.append(_Located(("defaults", index), f"{dotted!r} is not written in this file"))
                break
    return found


def _line_of(lines: dict[Loc, int], loc: Loc) -> int:
    # A missing field has no line of its own: use the mapping that should hold it.
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


# --- the public face ----------------------------------------------------------------


# Fields added to the language after definitions were first stored: at their default they
# stay out of the digest, so reloading an unchanged file makes no new version.
_LATER_DEFAULTS: dict[str, Any] = {
    "window": None,
    "on_rest_day": "next_working_day",
    "late_assignment": None,
    "measures": {},
}


def digest_of(definition: Definition) -> str:
    """The sha256 of a definition's canonical JSON: same meaning, same digest."""
    body = definition.model_dump(mode="json")
    for key, default in _LATER_DEFAULTS.items():
        if key in body and body[key] == default:
            del body[key]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parse(text: str, name: str) -> tuple[LoadedDefinition | None, list[Problem], dict[Loc, int]]:
    def problem(line: int, field: str, message: str) -> Problem:
        return Problem(f"{name}:{line}", field, message)

    builder = _Builder()
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        return None, [problem(1, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")], builder.lines
    text = text.removeprefix("\ufeff")
    try:
        root = _compose(text)
        if root is None:
            message = "the file is empty; a definition is a mapping (id: ..., title: ...)"
            return None, [problem(1, "", message)], builder.lines
        builder.lines[()] = root.start_mark.line + 1
        if not isinstance(root, MappingNode):
            message = "a definition file must be one mapping (id: ..., title: ...)"
            return None, [problem(root.start_mark.line + 1, "", message)], builder.lines
        data = builder.build(root, ())
    except _Refused as refused:
        return None, [problem(refused.line, refused.field, refused.message)], builder.lines
    located = _empty_unions(data)
    definition: Definition | None = None
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        located += [p for p in _problems_of(exc, data) if p.loc not in {e.loc for e in located}]
    if definition is not None:
        located += _missing_defaults(data)
    if definition is None or located:
        problems = [problem(_line_of(builder.lines, p.loc), _dotted(p.loc), p.message) for p in located]
        problems.sort(key=lambda p: int(p.where.rsplit(":", 1)[1]))
        return None, problems, builder.lines
    return LoadedDefinition(definition, name, text, digest_of(definition)), [], builder.lines


def read_mapping(text: str, name: str, noun: str) -> tuple[dict[str, Any], dict[Loc, int]]:
    """One YAML mapping with the line of every key, read with the definitions' bounds and tags.

    For the other files written in the same language (scoring schemes): a refusal is a
    DefinitionError at `name:LINE`, as a definition's would be.
    """
    builder = _Builder()
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_FILE_BYTES:
        raise DefinitionError(
            [Problem(f"{name}:1", "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
        )
    try:
        root = _compose(text.removeprefix("\ufeff"))
        if not isinstance(root, MappingNode):
            line = root.start_mark.line + 1 if root is not None else 1
            raise DefinitionError([Problem(f"{name}:{line}", "", f"a {noun} file must be one mapping")])
        builder.lines[()] = root.start_mark.line + 1
        return builder.build(root, ()), builder.lines
    except _Refused as refused:
        raise DefinitionError([Problem(f"{name}:{refused.line}", refused.field, refused.message)]) from None


def line_of(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of `loc`, or of the nearest mapping that holds it."""
    return _line_of(lines, loc)


def parse_definition(text: str, name: str) -> LoadedDefinition:
    """Parse and validate one definition's YAML text; `name` is the file name used in problems."""
    loaded, problems, _ = _parse(text, name)
    if loaded is None:
        raise DefinitionError(problems)
    return loaded


def _decode(data: bytes, name: str) -> tuple[str | None, list[Problem]]:
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(f"{name}:1", "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        )
        return None, [Problem(f"{name}:{line}", "", message)]


def parse_definition_bytes(data: bytes, name: str) -> LoadedDefinition:
    """Like `parse_definition`, for raw bytes (an upload): bounded, and refused unless UTF-8."""
    text, problems = _decode(data, name)
    if text is None:
        raise DefinitionError(problems)
    return parse_definition(text, name)


def _expand(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
            if not found:
                problems.append(
                    Problem(str(path), "", "no definition files (*.yaml, *.yml) in this directory")
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "", "no such file or directory"))
    unique: list[Path] = []
    seen: set[Path] = set()
    for file in files:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            unique.append(file)
    return unique, problems


def load_paths(paths: list[Path]) -> list[LoadedDefinition]:
    """Load files and directories (their *.yaml, *.yml), all or nothing: one DefinitionError lists every problem."""
    files, problems = _expand([Path(p) for p in paths])
    loaded: list[LoadedDefinition] = []
    first_of: dict[str, tuple[LoadedDefinition, int]] = {}
    for file in files:
        name = str(file)
        if file.stat().st_size > MAX_FILE_BYTES:
            # Refused before reading: a huge file must not cost memory to reject.
            problems.append(Problem(f"{name}:1", "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"))
            continue
        text, decode_problems = _decode(file.read_bytes(), name)
        if text is None:
            problems.extend(decode_problems)
            continue
        one, file_problems, lines = _parse(text, name)
        problems.extend(file_problems)
        if one is None:
            continue
        id_line = lines.get(("id",), 1)
        if one.definition.id in first_of:
            earlier, earlier_line = first_of[one.definition.id]
            message = f"{one.definition.id!r} is also the id of {earlier.path}:{earlier_line}"
            problems.append(Problem(f"{name}:{id_line}", "id", message))
            continue
        first_of[one.definition.id] = (one, id_line)
        loaded.append(one)
    if problems:
        raise DefinitionError(problems)
    return loaded
