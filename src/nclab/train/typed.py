"""Frozen dataclass sections whose fields are coerced to their annotations and validated.

The machinery behind :mod:`nclab.train.config`: :class:`Section` converts every field on
construction (``[64, 64]`` -> ``(64, 64)`` for ``tuple[int, ...]``, ``1`` -> ``1.0`` for
``float``) and then runs the section's ``_check``; every error is a :class:`ConfigError` whose
message starts with the dotted key (``optim.lr: must be finite and > 0, got -0.1``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any, ClassVar


class ConfigError(ValueError):
    """A config value is unknown, of the wrong type or impossible; the message names the key."""


# ---------------------------------------------------------------------------- coercion
def _describe(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value, tp, key: str):
    """``value`` converted to the annotated type ``tp`` or ConfigError naming ``key``."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        raise ConfigError(f"{key}: expected a {tp.__name__}, got {value!r}")
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: expected {_describe(tp)}, "
                          f"got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{key}: keys must be strings, got {k!r}")
            if not isinstance(v, (int, float, str, bool)) or isinstance(v, float) and math.isnan(v):
                raise ConfigError(f"{key}.{k}: expected a number or a string, got {v!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if math.isnan(value):
            raise ConfigError(f"{key}: must not be nan")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{key}: unsupported field type {tp!r}")  # pragma: no cover - schema bug


class Section:
    """Coerces every field to its annotation, then runs ``_check``; errors name ``key``."""

    _key: ClassVar[str] = ""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = coerce(getattr(self, f.name), hints[f.name], self.key(f.name))
            object.__setattr__(self, f.name, value)
        self._check()

    def key(self, name: str) -> str:
        return f"{self._key}.{name}" if self._key else name

    def _check(self) -> None:
        pass

    def _fail(self, name: str, problem: str):
        raise ConfigError(f"{self.key(name)}: {problem}, got {getattr(self, name)!r}")

    def _one_of(self, name: str, valid) -> None:
        if getattr(self, name) not in valid:
            self._fail(name, f"must be one of {', '.join(map(repr, valid))}")

    def _positive(self, *names: str, allow_zero: bool = False, allow_none: bool = True) -> None:
        for name in names:
            v = getattr(self, name)
            if v is None and allow_none:
                continue
            if v is None or not (v >= 0 if allow_zero else v > 0) or v == math.inf:
                self._fail(name, "must be finite and >= 0" if allow_zero else "must be finite and > 0")


# ---------------------------------------------------------------------------- dict round trip
def unknown_key(key_prefix: str, name: str, valid) -> ConfigError:
    full = f"{key_prefix}.{name}" if key_prefix else name
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown config key {full!r}{hint}; valid keys: {', '.join(valid)}")


def build(values: dict[str, Any], cls: type, prefix: str = ""):
    """``cls(**values)`` after checking that every key is a field; errors name the key."""
    names = [f.name for f in dataclasses.fields(cls)]
    for k in values:
        if k not in names:
            raise unknown_key(prefix, k, names)
    return cls(**values)


def to_dict(cfg) -> dict[str, Any]:
    """Nested plain dict (tuples as lists) -- JSON-ready and accepted by :func:`from_dict`."""

    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def diff(a, b, prefix: str = "") -> list[str]:
    """Keys (``section.field``) whose values differ between two configs."""
    out = []
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(va):
            out += diff(va, vb, key + ".")
        elif va != vb:
            out.append(key)
    return out
