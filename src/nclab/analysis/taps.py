"""Layers by module name: look-up with close matches, forward hooks that capture one tensor per
call, and the rules that turn a captured tensor into a feature matrix (N, D)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

import torch
from torch import nn

POOLS = ("flatten", "avg", "tokens")
POOL_HELP = (
    "pool='avg' (mean over every dim after the channel dim 1: conv maps N,C,H,W -> N,C), "
    "'flatten' (N, C*H*W), 'tokens' (every position a sample: N,T,D -> N*T,D, with per-token "
    "labels) or a callable tensor -> (rows, D)"
)


def find_module(model: nn.Module, name, what: str) -> nn.Module:
    """``model``'s submodule called ``name``; a ValueError listing close matches otherwise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} must be non-empty module names (model.named_modules()), got {name!r}")
    modules = dict(model.named_modules())
    if name in modules:
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=5, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise ValueError(
        f"{what}: model ({type(model).__name__}) has no module {name!r}{hint} "
        "(names are those of model.named_modules())"
    )


def parse_capture(spec: str, name: str) -> tuple[str, int | None]:
    """``"output"``, ``"input"``, or ``"output:i"`` / ``"input:i"`` (element i of a tuple)."""
    if not isinstance(spec, str):
        raise ValueError(f"capture for {name!r} must be a string, got {spec!r}")
    where, _, index = spec.partition(":")
    if where not in ("output", "input") or (index and not index.isdigit()):
        raise ValueError(
            f"capture for {name!r} must be 'output', 'input', 'output:i' or 'input:i', got {spec!r}"
        )
    return where, int(index) if index else None


def per_layer(value, names: list[str], what: str) -> dict:
    """A setting given once for all layers or as a mapping ``name -> setting``."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(f"{what} names {sorted(unknown)}, which are not in layers {names}")
        return {n: value.get(n) for n in names}
    return dict.fromkeys(names, value)


def check_pool(pool, name: str):
    if pool is None or callable(pool) or pool in POOLS:
        return pool
    raise ValueError(f"pool for {name!r} must be one of {POOLS}, a callable or None, got {pool!r}")


def pool_name(pool) -> str | None:
    if pool is None or isinstance(pool, str):
        return pool
    return getattr(pool, "__name__", type(pool).__name__)


def as_features(t: torch.Tensor, pool, name: str) -> torch.Tensor:
    """The (rows, D) feature matrix of a captured tensor by the layer's pool rule."""
    if t.ndim == 2:
        return t
    if t.ndim < 2:
        raise ValueError(f"layer {name!r} gave shape {tuple(t.shape)}; features need (N, D) or more dims")
    if pool is None:
        raise ValueError(
            f"layer {name!r} gives feature maps of shape {tuple(t.shape)}: choose how to reduce "
            f"them with {POOL_HELP}"
        )
    if callable(pool):
        out = pool(t)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise ValueError(
                f"pool callable for {name!r} must return a 2-D tensor, got "
                f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
            )
        return out
    if pool == "flatten":
        return t.reshape(t.shape[0], -1)
    if pool == "avg":  # float32 accumulation at least (the statistics are float64)
        return t.mean(dim=tuple(range(2, t.ndim)), dtype=torch.promote_types(t.dtype, torch.float32))
    return t.reshape(-1, t.shape[-1])  # tokens


class Tap:
    """A forward hook on one module capturing one tensor per call.

    With a ``sink`` the tensor is handed over inside the hook (before any later in-place op,
    e.g. ``ReLU(inplace=True)``, can change it); without one a copy is kept in ``value`` (the
    first batch, before the number of classes and the classifier are known)."""

    def __init__(self, row: str, module_name: str, module: nn.Module, capture: str, pool):
        self.row, self.module_name, self.module = row, module_name, module
        self.capture = capture
        self.where, self.index = parse_capture(capture, row)
        self.pool = pool
        self.sink: Callable | None = None
        self.value = self.raw = None
        self.calls = 0
        self.handle = None

    def attach(self) -> Tap:
        if self.where == "output":
            self.handle = self.module.register_forward_hook(self._on_output)
        else:
            self.handle = self.module.register_forward_pre_hook(self._on_input)
        return self

    def _on_output(self, module, args, out):
        self._take(out)

    def _on_input(self, module, args):
        self._take(args)

    def _take(self, value) -> None:
        self.calls += 1
        if self.calls > 1:
            raise ValueError(
                f"layer {self.module_name!r} was called more than once in one forward pass (a "
                "shared module); analyze measures one call per sample: pick a module called once"
            )
        t = self._extract(value)
        if self.sink is not None:
            self.sink(self, t)
        else:
            self.raw, self.value = t, t.detach().clone()

    def reset(self) -> None:
        self.value = self.raw = None
        self.calls = 0

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        self.value = self.raw = self.sink = None

    def check_called(self) -> None:
        if self.calls == 0:
            raise ValueError(
                f"layer {self.module_name!r} ({type(self.module).__name__}) was not called by the "
                "forward pass; analyze can only measure modules the forward uses"
            )

    def _extract(self, v) -> torch.Tensor:
        if self.where == "input":
            index = 0 if self.index is None else self.index
            if index >= len(v):
                raise ValueError(
                    f"layer {self.module_name!r} got {len(v)} positional input(s); capture "
                    f"{self.capture!r} needs element {index}"
                )
            v = v[index]
        elif self.index is not None:
            if not isinstance(v, (tuple, list)) or self.index >= len(v):
                raise ValueError(f"layer {self.module_name!r}: capture {self.capture!r} needs a tuple output")
            v = v[self.index]
        if not isinstance(v, torch.Tensor):
            kinds = ", ".join(type(e).__name__ for e in v) if isinstance(v, (tuple, list)) else ""
            hint = f" ({kinds}); take element i with capture='{self.where}:i'" if kinds else ""
            raise ValueError(
                f"layer {self.module_name!r} {self.where} is a {type(v).__name__}{hint}, not a tensor"
            )
        return v


class CallOrder:
    """Pre-hooks recording the order in which modules are first called (one forward pass)."""

    def __init__(self, modules: Mapping[str, nn.Module]):
        self.order: list[str] = []
        self.modules = modules
        self.handles = []

    def attach(self) -> None:
        self.handles = [m.register_forward_pre_hook(self._hook(n)) for n, m in self.modules.items()]

    def _hook(self, name: str) -> Callable:
        def hook(module, args):
            if name not in self.order:
                self.order.append(name)
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
