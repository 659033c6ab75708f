"""``a.b=value`` overrides parsed against the config's field types.

Values are Python/JSON-like literals: ``optim.lr=0.1``, ``model.widths=[64,64]``,
``data.classes=(1,2)``, ``model.bias=true``, ``data.n_per_class=none``,
``loss.preset=p2_dufm`` (strings need no quotes), ``data.options.sigma=0.3`` (one key of a
mapping field). The parsed value is then coerced and validated like any constructor argument,
so a wrong type or an impossible value is an error naming the key.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import types
import typing

from .config import ConfigError, TrainConfig
from .typed import coerce, unknown_key

_WORDS = {"true": True, "false": False, "none": None, "null": None}
_PY_WORD = {"true": "True", "false": "False", "none": "None", "null": "None"}
_JSON_WORD = re.compile(r"\b(true|false|none|null)\b", re.IGNORECASE)
_NOT_A_LITERAL = object()
# 0x10, 0o17, 0b101 outside quotes: Python literals, but not numbers a config should hold
_NON_DECIMAL = re.compile(r"(?<![\w.'\"])[+-]?0[xXoObB][0-9a-fA-F_]+\b")


def _item(text: str):
    """One element of a bracketed list: a literal, a JSON word or a bare string."""
    text = text.strip()
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    value = _literal(text)
    return text if value is _NOT_A_LITERAL else value


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOT_A_LITERAL


def parse_value(text: str, tp, key: str):
    """The override string ``text`` as a value of type ``tp``."""
    raw = text.strip()
    if raw[:1] in "[(" and raw[-1:] in ")]" and any(
            not t.strip() for t in raw[1:-1].split(",")[:-1]) and raw[1:-1].strip():
        raise ConfigError(f"{key}: empty element in {raw!r} (a doubled or leading comma)")
    if _NON_DECIMAL.search(_unquoted(raw)):
        raise ConfigError(f"{key}: {raw!r} holds a hexadecimal, octal or binary literal; write "
                          "numbers in decimal")
    if raw.lower() in _WORDS and _accepts_str(tp) and type(_WORDS[raw.lower()]) not in _args(tp):
        value = raw  # e.g. reg.scheme=none is the scheme's name
    elif raw.lower() in _WORDS:
        value = _WORDS[raw.lower()]
    else:
        value = _literal(raw)
        if value is _NOT_A_LITERAL:  # lists with JSON-style words: [true, false], [1, null]
            value = _literal(_JSON_WORD.sub(lambda m: _PY_WORD[m.group(0).lower()], raw))
        if value is _NOT_A_LITERAL and raw[:1] in "[(" and raw[-1:] in ")]":
            value = [_item(t) for t in raw[1:-1].split(",") if t.strip()]  # [head, features]
        if value is _NOT_A_LITERAL:
            value = raw  # a bare word: valid only where a string is expected
    if isinstance(value, (int, float)) and _accepts_str(tp) and not _accepts_number(tp):
        value = raw  # e.g. data.split=2017 keeps the text
    return coerce(value, tp, key)


def _unquoted(text: str) -> str:
    """``text`` without its quoted parts (so that '0x1' in a string is not a number)."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "''", text)


def _args(tp) -> tuple:
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    return typing.get_args(tp) if union else (tp,)


def _accepts_str(tp) -> bool:
    return str in _args(tp)


def _accepts_number(tp) -> bool:
    return any(a in (int, float) for a in _args(tp))


def apply_overrides(cfg: TrainConfig, overrides) -> TrainConfig:
    """A new config with each ``"section.field=value"`` (or top-level ``"seed=3"``) applied.

    All overrides are applied together and validated once, so ``optim.name=sgd`` and
    ``optim.batch_size=128`` may come in any order. Unknown keys, malformed items and values of
    the wrong type or out of range raise :class:`ConfigError` naming the key.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    top: dict = {}
    sections: dict[str, dict] = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"override {item!r} must look like 'section.field=value'")
        key, text = (part.strip() for part in item.split("=", 1))
        path = key.split(".")
        current = getattr(cfg, path[0], None) if _has_field(cfg, path[0]) else None
        if not _has_field(cfg, path[0]):
            raise unknown_key("", path[0], _names(cfg))
        if not dataclasses.is_dataclass(current):
            if len(path) > 1:
                raise unknown_key("", key, _names(cfg))
            top[path[0]] = parse_value(text, _hint(cfg, path[0]), key)
            continue
        if len(path) == 1:
            raise ConfigError(f"{key}: is a section; set one of its fields, e.g. {key}.<field>")
        section, name = current, path[1]
        if not _has_field(section, name):
            raise unknown_key(path[0], name, _names(section))
        changes = sections.setdefault(path[0], {})
        if len(path) == 2:
            changes[name] = parse_value(text, _hint(section, name), key)
        elif len(path) == 3 and isinstance(getattr(section, name), dict):
            entry = parse_value(text, int | float | bool | str, key)
            changes[name] = {**changes.get(name, getattr(section, name)), path[2]: entry}
        else:
            raise unknown_key(path[0], ".".join(path[1:]), _names(section))
    new = {name: dataclasses.replace(getattr(cfg, name), **ch) for name, ch in sections.items()}
    return dataclasses.replace(cfg, **new, **top)


def _names(obj) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def _has_field(obj, name: str) -> bool:
    return name in _names(obj)


def _hint(obj, name: str):
    return typing.get_type_hints(type(obj))[name]
