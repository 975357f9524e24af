"""Recipes as every command reads them: strict typed sections, YAML layers, command-line overrides.

A recipe is resolved from layers, later ones winning; each command names its
own layers (``pretrain.config``, ``downstream.config``). This module holds
what they share: the strict :class:`Section` base, the safe YAML reader, the
parsing of ``--section.key VALUE`` overrides, the deep merge and the
one-line explanation of a validation error ("did you mean ...").
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Tag, ValidationError, create_model

from .errors import JepaError

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class Section(BaseModel):
    """A recipe section; unknown keys are rejected so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible values (tuples become lists)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SectionT = TypeVar("SectionT", bound=BaseModel)


@cache
def with_sections(base: type[SectionT], domain: str, **sections: type[BaseModel]) -> type[SectionT]:
    """``base`` with the named sections replaced by a domain's own models (one class per domain).

    A section given a model with defaults keeps an instance of it as its default; ``task`` has none.
    """
    fields: dict[str, Any] = {
        name: (model, model() if name != "task" else ...) for name, model in sections.items()
    }
    return create_model(f"{base.__name__}_{domain}", __base__=base, **fields)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping read with the safe loader; clear errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise JepaError(f"recipe file {path} does not exist")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JepaError(f"recipe file {path} is not valid YAML: {exc}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise JepaError(f"recipe file {path} must hold a mapping of keys, not {type(content).__name__}")
    return content


def read_json(path: Path) -> Any:
    """A JSON file's content; one clear error for a malformed file."""
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise JepaError(f"{path}: not valid JSON: {exc}") from exc


def split_overrides(extra: list[str]) -> list[tuple[str, str]]:
    """``["--model.depth", "4", "--optim.lr=1e-3"]`` -> ``[("model.depth", "4"), ("optim.lr", "1e-3")]``."""
    pairs, i = [], 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or "." not in arg.split("=")[0]:
            raise JepaError(f"unrecognized argument '{arg}' (recipe overrides look like --section.key VALUE)")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            key, value = arg[2:], extra[i + 1]
            i += 2
        else:
            raise JepaError(f"override '{arg}' needs a value")
        pairs.append((key, value))
    return pairs


def parse_overrides(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``[("model.depth", "4")]`` -> ``{"model": {"depth": 4}}``; values are parsed as YAML scalars/lists."""
    tree: dict[str, Any] = {}
    for dotted, text in pairs:
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            value = float(value)  # YAML 1.1 reads "5e-4" as a string
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise JepaError(f"override --{dotted} conflicts with another override of '{part}'")
        node[leaf] = value
    return tree


def command_overrides(
    extra: list[str], named: dict[str, Any] | None = None, data: str | list[str] | None = None
) -> dict[str, Any]:
    """The nested overrides of a command line: ``--section.key VALUE`` pairs, then the named options.

    Args:
        extra: The arguments argparse did not recognize (the ``--section.key`` pairs).
        named: Overrides from the command's own options (``--seed`` -> ``{"seed": ...}``); they win.
        data: ``--data PATH [PATH ...]``, as ``data.path`` (one path as a string, several as a list).
    """
    overrides = parse_overrides(split_overrides(extra))
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if data is not None:
        overrides = deep_merge(overrides, {"data": {"path": data}})
    return deep_merge(overrides, named or {})


DataArgument = Union[str, Path, Sequence[Union[str, Path]], Mapping[str, Any], None]
"""A raw data file or folder, several of them, or a mapping of ``data`` recipe keys (``{"path": ..., ...}``)."""

def recipe_overrides(overrides: dict[str, Any], data: DataArgument = None) -> dict[str, Any]:
    """Nested recipe overrides from keyword arguments: dotted keys are split; ``data`` is ``data.path`` (one
    path or several), or a mapping of ``data`` keys."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        for name in reversed(key.split(".")):
            value = {name: value}
        nested = deep_merge(nested, value)
    if isinstance(data, Mapping):
        return deep_merge(nested, {"data": dict(data)})
    if isinstance(data, (list, tuple)):
        paths = [str(path) for path in data]
        return deep_merge(nested, {"data": {"path": paths[0] if len(paths) == 1 else paths}})
    if data is not None:
        return deep_merge(nested, {"data": {"path": str(data)}})
    return nested


def sections(annotation: Any) -> dict[str | None, type[BaseModel]]:
    """The recipe sections a field holds: ``{None: model}`` (also in a list), or ``{tag: model}`` for a tagged union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {None: annotation}
    if get_origin(annotation) is list:
        return sections(get_args(annotation)[0])
    if get_origin(annotation) is Annotated:
        model, *metadata = get_args(annotation)
        tags = [item.tag for item in metadata if isinstance(item, Tag)]
        return {tags[0]: model} if tags and isinstance(model, type) else sections(model)
    if get_origin(annotation) in (Union, UnionType):
        return {tag: model for member in get_args(annotation) for tag, model in sections(member).items()}
    return {}


def known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key a recipe model accepts (the keys of every strategy of a tagged union)."""
    keys = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        for section in sections(field.annotation).values():
            keys.extend(known_keys(section, dotted + "."))
    return list(dict.fromkeys(keys))


def recipe_key(loc: tuple[str | int, ...], model: type[BaseModel]) -> tuple[str, str | None]:
    """The dotted recipe key of a validation error's location, and the tag of the union member it is in."""
    parts: list[str] = []
    inside: dict[str | None, type[BaseModel]] = {None: model}
    tag = None
    for part in loc:
        if isinstance(part, int):
            continue
        if part in inside:  # the tag of the union member that was validated
            inside, tag = {None: inside[part]}, part
            continue
        parts.append(part)
        field = next((m.model_fields[part] for m in inside.values() if part in m.model_fields), None)
        inside = sections(field.annotation) if field is not None else {}
    return ".".join(parts) or "(recipe)", tag


def explain(error: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One readable line per problem, naming the recipe key (under ``prefix``, e.g. ``data.``)."""
    keys = known_keys(model)
    lines = []
    for problem in error.errors():
        key, tag = recipe_key(problem["loc"], model)
        if problem["type"] == "extra_forbidden" and tag is not None and key in keys:
            lines.append(f"recipe key '{prefix}{key}' does not apply to '{tag}'")
        elif problem["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, keys, n=1)
            lines.append(f"unknown recipe key '{prefix}{key}'" + (f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""))
        else:
            message = problem["msg"].removeprefix("Value error, ")
            where = f"{prefix}{key}" if key != "(recipe)" or not prefix else prefix.rstrip(".")
            got = problem.get("input")
            named = message.split(" ", 1)[0]  # a section's check across its keys names the offending one first
            dotted = named if key == "(recipe)" else f"{key}.{named}"
            if dotted in keys and isinstance(got, dict):
                where, message, got = f"{prefix}{dotted}", message[len(named):].lstrip(), got.get(named)
            lines.append(f"recipe key '{where}': {message}" + ("" if "got " in message else f" (got {got!r})"))
    return "; ".join(lines)


def validate(model: type[BaseModel], values: dict[str, Any], prefix: str = "") -> Any:
    """``model.model_validate(values)``, with one :class:`JepaError` line per problem instead of pydantic's."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise JepaError(explain(exc, model, prefix)) from None
