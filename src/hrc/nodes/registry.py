"""A node's dataset registry: what the node holds, with paths kept private.

The registry is ``datasets.json`` in the node's folder (its *home*). Each
entry has a ``name``, ``tags``, a ``description``, the ``shape`` computed from
the data, the ``kind`` of file and the ``path``. Only the node reads the path:
:meth:`DatasetRegistry.public_entries` is what leaves the node, and it holds
names, tags, descriptions and shapes only.

Accepted data:

``shard`` (``.npz``)
    arrays ``features`` (samples x features, float) and ``labels`` (samples,
    integer class indices): a preprocessed training shard, as the data-owner
    step of ``hrc train --engine nvflare`` writes. Only shards can be trained
    on.
``prepared`` (a folder)
    the prepared pair ``v8_samples.parquet`` and ``v8_expressions.parquet``;
    shape is samples x genes.
``table`` (``.parquet`` or ``.csv``)
    any table; shape is rows x columns.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import torch

from hrc.data import schema
from hrc.errors import DataError, UsageError
from hrc.io import write_json_atomic
from hrc.nodes.tags import matches, parse_tags

logger = logging.getLogger(__name__)

REGISTRY_FILE = "datasets.json"
NODE_HOME_ENV = "HRC_NODE_HOME"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
KINDS = ("shard", "prepared", "table")
PUBLIC_FIELDS = ("name", "tags", "description", "shape", "kind")


class DatasetRegistry:
    """The datasets registered on one node.

    Parameters
    ----------
    home : path-like
        The node's private folder; ``datasets.json`` lives there.
    """

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.path = self.home / REGISTRY_FILE

    # Reading and writing the registry file.
    def entries(self) -> list[dict]:
        """All entries, with paths (for the node itself only)."""
        if not self.path.is_file():
            return []
        try:
            payload = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(
                f"cannot read dataset registry {self.path}: {exc}"
            ) from None
        return list(payload.get("datasets", []))

    def _save(self, entries: list[dict]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"datasets": entries})

    def public_entries(self, tags: tuple[str, ...] = ()) -> list[dict]:
        """Entries without paths, those whose tags include all of ``tags``."""
        return [
            {key: entry[key] for key in PUBLIC_FIELDS}
            for entry in self.entries()
            if matches(entry["tags"], tags)
        ]

    def add(
        self,
        name: str,
        path: str | Path,
        tags: tuple[str, ...] | list[str],
        description: str = "",
        replace: bool = False,
    ) -> dict:
        """Register the data at ``path`` under ``name`` and return its public entry.

        Raises
        ------
        UsageError
            If the name or a tag is malformed, or ``name`` is taken and
            ``replace`` is false.
        DataError
            If ``path`` does not exist or is not a supported kind of data.
        """
        if not NAME_PATTERN.fullmatch(name):
            raise UsageError(
                f"--name: malformed dataset name {name!r}; use 1-64 letters, "
                "digits, '_', '-' or '.', starting with a letter or digit"
            )
        tags = parse_tags(tags)
        kind, shape = describe(Path(path))
        entries = self.entries()
        if any(e["name"] == name for e in entries) and not replace:
            raise UsageError(
                f"--name: dataset {name!r} is already registered on this node; "
                "remove it first or choose another name"
            )
        entry = {
            "name": name,
            "tags": list(tags),
            "description": description,
            "shape": list(shape),
            "kind": kind,
            "path": str(Path(path).resolve()),
        }
        entries = [e for e in entries if e["name"] != name] + [entry]
        self._save(entries)
        logger.info("registered dataset %s (%s, shape %s)", name, kind, shape)
        return {key: entry[key] for key in PUBLIC_FIELDS}

    def remove(self, name: str) -> dict:
        """Unregister ``name`` (its files are left alone) and return its entry.

        Raises
        ------
        UsageError
            If no dataset is called ``name``; the registered names are listed.
        """
        entries = self.entries()
        kept = [e for e in entries if e["name"] != name]
        if len(kept) == len(entries):
            known = ", ".join(e["name"] for e in entries) or "none"
            raise UsageError(
                f"NAME: no dataset {name!r} on this node; registered: {known}"
            )
        self._save(kept)
        removed = next(e for e in entries if e["name"] == name)
        return {key: removed[key] for key in PUBLIC_FIELDS}

    def load_training_data(
        self, tags: tuple[str, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and labels of every shard whose tags include all of ``tags``.

        Shards are concatenated in name order.

        Raises
        ------
        DataError
            If no shard matches, naming the tags and the datasets present.
        """
        chosen = [
            e
            for e in sorted(self.entries(), key=lambda e: e["name"])
            if e["kind"] == "shard" and matches(e["tags"], tags)
        ]
        if not chosen:
            present = "; ".join(
                f"{e['name']} ({' '.join(e['tags'])})" for e in self.entries()
            )
            raise DataError(
                f"no training shard matches tags {' '.join(tags)}; "
                f"registered: {present or 'none'}"
            )
        shards = [read_shard(Path(e["path"])) for e in chosen]
        widths = {int(features.shape[1]) for features, _ in shards}
        if len(widths) > 1:
            raise DataError(
                f"shards matching {' '.join(tags)} differ in width: {sorted(widths)}"
            )
        return torch.cat([f for f, _ in shards]), torch.cat([y for _, y in shards])


def write_shard(path: str | Path, features: torch.Tensor, labels: torch.Tensor) -> Path:
    """Write a training shard (``features``, ``labels``) as ``.npz`` atomically."""
    from hrc.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                features=features.numpy().astype(np.float32, copy=False),
                labels=labels.numpy().astype(np.int64, copy=False),
            )
    return path


def read_shard(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a shard written by :func:`write_shard`.

    Raises
    ------
    DataError
        If the file is missing or lacks the two arrays.
    """
    try:
        with np.load(path) as arrays:
            features = np.asarray(arrays["features"], dtype=np.float32)
            labels = np.asarray(arrays["labels"], dtype=np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read training shard {path.name}: {exc}") from None
    return torch.from_numpy(features), torch.from_numpy(labels)


def describe(path: Path) -> tuple[str, tuple[int, ...]]:
    """Return the kind and shape of the data at ``path``.

    Raises
    ------
    DataError
        If ``path`` is missing or of no accepted kind.
    """
    if not path.exists():
        raise DataError(f"PATH: {path} does not exist")
    if path.is_dir():
        return "prepared", _prepared_shape(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return "shard", _shard_shape(path)
    if suffix in (".parquet", ".csv"):
        return "table", _table_shape(path)
    raise DataError(
        f"PATH: {path.name} is of no accepted kind; accepted: a .npz shard with "
        "'features' and 'labels', a folder with the prepared pair, a .parquet "
        "or .csv table"
    )


def _shard_shape(path: Path) -> tuple[int, ...]:
    try:
        with np.load(path) as arrays:
            features, labels = arrays["features"], arrays["labels"]
            shape = tuple(int(n) for n in features.shape)
            n_labels = int(labels.shape[0])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(
            f"PATH: {path.name} is not a shard with 'features' and 'labels' ({exc})"
        ) from None
    if len(shape) != 2 or shape[0] != n_labels:
        raise DataError(
            f"PATH: {path.name} holds features of shape {shape} and {n_labels} "
            "labels; expected (samples, features) and one label per sample"
        )
    return shape


def _prepared_shape(folder: Path) -> tuple[int, int]:
    import pyarrow.parquet as pq

    expressions = folder / schema.EXPRESSIONS_FILE
    if not (folder / schema.SAMPLES_FILE).is_file() or not expressions.is_file():
        raise DataError(
            f"PATH: folder {folder.name} lacks {schema.SAMPLES_FILE} or "
            f"{schema.EXPRESSIONS_FILE}"
        )
    meta = pq.ParquetFile(expressions).metadata
    return int(meta.num_rows), int(meta.num_columns) - 1


def _table_shape(path: Path) -> tuple[int, int]:
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".parquet":
            meta = pq.ParquetFile(path).metadata
            return int(meta.num_rows), int(meta.num_columns)
        table = pd.read_csv(path)
    except Exception as exc:  # pandas and pyarrow raise many types
        raise DataError(f"PATH: cannot read table {path.name}: {exc}") from None
    return int(table.shape[0]), int(table.shape[1])
