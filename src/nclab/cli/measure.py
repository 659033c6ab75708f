"""``nclab measure`` and ``nclab analyze``: the NC metrics of saved arrays (features, labels,
weights) and of any network's layers on a dataset."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from .common import EXIT_OK, UsageError, fmt, make_console, print_json


def _load_arrays(path: Path) -> dict:
    """The arrays of a .npz (never unpickled) or .safetensors file; a UsageError otherwise."""
    import numpy as np

    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix == ".npz":
        with open(path, "rb") as fh:
            if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # else np.load tries pickle
                raise UsageError(f"{path}: not a readable .npz file (not a zip archive)")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except ValueError as err:
            if "allow_pickle" in str(err):
                raise UsageError(f"{path}: {err} (object arrays are refused)") from None
            raise UsageError(f"{path}: not a readable .npz file ({err})") from None
        except Exception as err:  # noqa: BLE001 -- zip / I/O errors of a damaged file
            raise UsageError(f"{path}: not a readable .npz file ({type(err).__name__}: "
                             f"{err})") from None
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001 -- SafetensorError, I/O errors
            raise UsageError(f"{path}: not a readable .safetensors file ({type(err).__name__}: "
                             f"{err})") from None
    raise UsageError(f"{path}: expected a .npz or .safetensors file")


def _labels(y, key: str):
    """Integer class labels from the labels array ``y``: integers, whole-valued floats or
    one-hot rows; anything else (fractions, soft labels, bool, strings) is a UsageError."""
    import numpy as np

    if y.dtype.kind not in "iuf":
        raise UsageError(f"labels {key!r} must be integer class labels, got dtype {y.dtype}")
    if y.ndim == 2:
        one_hot = bool(np.isin(y, (0, 1)).all()) and bool((y.sum(1) == 1).all())
        if not one_hot:
            raise UsageError(f"labels {key!r} are 2-D but not one-hot (each row a single 1): "
                             "soft labels have no class; save the class indices")
        y = y.argmax(1)
    if y.ndim != 1:
        raise UsageError(f"labels {key!r} must be 1-D class indices (or one-hot rows), got "
                         f"shape {y.shape}")
    if y.dtype.kind == "f":
        if not bool(np.isfinite(y).all()) or not bool((y == np.round(y)).all()):
            raise UsageError(f"labels {key!r} hold non-integer values (e.g. "
                             f"{y[(y != np.round(y)) | ~np.isfinite(y)][0]!r}); labels are "
                             "class indices 0..K-1")
        if np.abs(y).max(initial=0) >= 2.0**53:
            raise UsageError(f"labels {key!r} are too large to be class indices")
    return y.astype(np.int64)


def cmd_measure(args) -> int:
    """``nclab measure FILE``: :func:`nclab.metrics.layer_report` of the file's features, labels
    and weight matrices."""
    from nclab.metrics import layer_report

    arrays = _load_arrays(Path(args.file))
    label_key = args.labels
    if label_key is None:
        label_key = next((k for k in ("y", "labels", "targets") if k in arrays), None)
    if label_key is None or label_key not in arrays:
        raise UsageError(f"no labels: pass --labels KEY (keys: {', '.join(arrays)})")
    y = _labels(arrays[label_key], label_key)
    weight_keys = []
    for pattern in args.weights or ():
        matched = [k for k in arrays if k == pattern or
                   (pattern.endswith("*") and k.startswith(pattern[:-1]))]
        if not matched:
            raise UsageError(f"--weights {pattern!r} matches no array (keys: {', '.join(arrays)})")
        weight_keys += [k for k in matched if k not in weight_keys]
    rest = [k for k in arrays if k != label_key and k not in weight_keys]
    feats = {k: arrays[k] for k in rest if arrays[k].ndim == 2 and len(arrays[k]) == len(y)}
    ignored = [k for k in rest if k not in feats]
    if not feats:
        raise UsageError(f"no feature arrays of shape (N={len(y)}, D) besides the labels and "
                         f"weights (keys: {', '.join(arrays)})")
    last = arrays[weight_keys[-1]] if weight_keys else None
    K = int(y.max()) + 1 if y.size and y.min() >= 0 else None
    if (last is not None and last.ndim == 2 and K is not None and last.shape[1] == K
            and last.shape[0] != K and last.shape[0] in {f.shape[1] for f in feats.values()}):
        raise UsageError(f"--weights {weight_keys[-1]!r} has shape {last.shape} = (D, K): the "
                         f"classifier must be (K, D) = ({K}, {last.shape[0]}), one row per "
                         "class; save its transpose")
    try:
        report = layer_report(feats, y, {k: arrays[k] for k in weight_keys} or None,
                              classifier_input=args.classifier_input)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.json:
        print_json({"file": args.file, "labels": label_key, "rows": report.rows,
                    "ignored_arrays": ignored,
                    "skipped": {"/".join(k): v for k, v in report.skipped.items()}})
        return EXIT_OK
    cols = ("nc1_trace", "nc1_pinv", "nc2_cond", "means_rank", "nc3_cos", "nc4_ncc",
            "w_rank", "w_balancedness")
    table = Table(title=f"{args.file}: N = {len(y)}", title_justify="left")
    table.add_column("layer")
    table.add_column("kind")
    for c in cols:
        table.add_column(c, justify="right")
    for row in report.rows:
        table.add_row(row["layer"], row.get("kind", ""),
                      *[fmt(row[c]) if c in row else "" for c in cols])
    make_console().print(table)
    if ignored:
        make_console().print(f"ignored (not (N, D) features; use --weights for weight "
                             f"matrices): {', '.join(ignored)}")
    return EXIT_OK


# ---- analyze ---------------------------------------------------------------------------------
def _factory(spec: str):
    """The callable named by ``--model package.module:factory``."""
    import importlib

    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise UsageError(f"--model must be 'package.module:factory', got {spec!r}")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise UsageError(f"--model {spec!r}: {err}") from None
    if not callable(fn):
        raise UsageError(f"--model {spec!r} is not callable")
    return fn


def cmd_analyze(args) -> int:
    """``nclab analyze``: :func:`nclab.analyze` of a user's model on a named dataset."""
    import torch

    import nclab
    from nclab.data import load_dataset

    model = _factory(args.model)()
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"--model {args.model} returned a {type(model).__name__}, not an nn.Module")
    if args.weights:
        from safetensors.torch import load_file  # no pickle: safe for untrusted files

        try:
            model.load_state_dict(load_file(args.weights))
        except (OSError, RuntimeError, ValueError) as err:
            raise UsageError(f"--weights {args.weights}: {err}") from None
    try:
        ds = load_dataset(args.data, split=args.split, n_per_class=args.n_per_class)
        X = ds.X
        if args.shape:
            X = X.reshape(len(X), *args.shape)
        report = nclab.analyze(model, (X, ds.y), args.layers, pool=args.pool,
                               capture=args.capture, classifier=args.classifier,
                               batch_size=args.batch_size, one_pass=args.one_pass)
    except (ValueError, RuntimeError) as err:
        raise UsageError(str(err)) from None
    if args.json:
        print_json({"model": args.model, "weights": args.weights, "data": args.data,
                    "split": args.split, "rows": report.rows, "info": report.info,
                    "skipped": {"/".join(k): v for k, v in report.skipped.items()}})
        return EXIT_OK
    cols = ("nc1_trace", "nc1_pinv", "nc2_etf_gram_dist", "means_rank", "nc3_cos", "nc4_ncc",
            "w_stable_rank", "w_balancedness")
    table = Table(title=f"{args.model} on {args.data}/{args.split}: N = {len(ds.y)}, classifier "
                  f"{report.info['classifier']}", title_justify="left")
    for c in ("layer", "kind", *cols):
        table.add_column(c, justify="left" if c in ("layer", "kind") else "right")
    for row in report.rows:
        table.add_row(row["layer"], row["kind"], *[fmt(row[c]) if c in row else "" for c in cols])
    make_console().print(table)
    for (layer, _kind, metric), why in report.skipped.items():
        make_console().print(f"skipped {layer}/{metric}: {why}", markup=False)
    return EXIT_OK


def register(add) -> None:
    """The ``measure`` and ``analyze`` commands."""
    p = add("measure", "NC metrics of saved features / weights (.npz or .safetensors)",
            cmd_measure, "Every metric of nclab.metrics.layer_report for the 2-D arrays of a "
            "file: features (N, D) per layer, integer (or one-hot) labels, optional weight "
            "matrices. npz files are read with allow_pickle=False.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--labels", metavar="KEY", help="labels array (default: y, labels, targets)")
    p.add_argument("--weights", action="append", metavar="KEY",
                   help="weight matrix key (repeatable; 'W*' matches a prefix)")
    p.add_argument("--classifier-input", metavar="KEY",
                   help="features the last weight (the classifier) reads: NC3/NC4 there")
    p.add_argument("--json", action="store_true")

    p = add("analyze", "NC metrics of any network's layers on a dataset",
            cmd_analyze, "nclab.analyze on a model built by FACTORY (a function in an importable "
            "module), with weights from a safetensors file, over a dataset by name; one row per "
            "layer (see README, Measure your own network).")
    p.add_argument("--model", required=True, metavar="PKG.MODULE:FACTORY")
    p.add_argument("--weights", metavar="FILE.safetensors", help="state dict (default: as built)")
    p.add_argument("--data", required=True, metavar="NAME", help="fashion-mnist, mnist, cifar10, ...")
    p.add_argument("--split", default="test")
    p.add_argument("--n-per-class", type=int, default=None, metavar="N")
    p.add_argument("--shape", type=int, nargs="+", metavar="DIM",
                   help="reshape each sample, e.g. --shape 1 28 28 for a CNN")
    p.add_argument("--layers", nargs="+", required=True, metavar="NAME")
    p.add_argument("--pool", choices=("avg", "flatten", "tokens"), default=None)
    p.add_argument("--capture", choices=("output", "input"), default="output")
    p.add_argument("--classifier", default=None, metavar="NAME", help="default: last nn.Linear")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--one-pass", action="store_true")
    p.add_argument("--json", action="store_true")
