"""Held-out figures of a classifier: loss, accuracy, balanced accuracy, macro-F1.

All figures come from the confusion matrix, in numpy; they agree with
scikit-learn's ``accuracy_score``, ``balanced_accuracy_score`` and
``f1_score(average="macro", zero_division=0)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> np.ndarray:
    """Return the ``(n_classes, n_classes)`` counts, true class by row."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred)
    counts = np.bincount(flat, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def classification_scores(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> dict[str, float]:
    """Return accuracy, balanced accuracy and macro-F1 of integer predictions.

    Balanced accuracy is the mean recall over the classes present in
    ``y_true``; macro-F1 averages the F1 of the classes present in ``y_true``
    or ``y_pred``, counting an undefined F1 as 0.
    """
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    total = matrix.sum()
    if total == 0:
        return {"accuracy": 0.0, "balanced_accuracy": 0.0, "macro_f1": 0.0}
    hits = np.diag(matrix).astype(np.float64)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)

    # Recall over true classes, F1 over classes seen on either side.
    present = support > 0
    recall = hits[present] / support[present]
    seen = present | (predicted > 0)
    denominator = support[seen] + predicted[seen]
    f1 = np.divide(
        2 * hits[seen], denominator, where=denominator > 0, out=np.zeros(seen.sum())
    )
    return {
        "accuracy": float(hits.sum() / total),
        "balanced_accuracy": float(recall.mean()),
        "macro_f1": float(f1.mean()),
    }


def evaluate_logits(
    logits: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> dict[str, float]:
    """Return mean cross-entropy ``loss`` and the scores of the argmax predictions."""
    if labels.numel() == 0:
        return {
            "loss": float("nan"),
            "accuracy": 0.0,
            "balanced_accuracy": 0.0,
            "macro_f1": 0.0,
        }
    loss = float(F.cross_entropy(logits, labels).item())
    predictions = logits.argmax(dim=1).cpu().numpy()
    return {
        "loss": loss,
        **classification_scores(labels.cpu().numpy(), predictions, n_classes),
    }


def majority_class(train_labels: torch.Tensor | np.ndarray, n_classes: int) -> int:
    """Return the most frequent training class (the lowest index on ties)."""
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=n_classes)
    return int(np.argmax(counts))


def majority_baseline(
    train_labels: torch.Tensor | np.ndarray,
    test_labels: torch.Tensor | np.ndarray,
    n_classes: int,
) -> float:
    """Return the test accuracy of always predicting the majority training class."""
    test = np.asarray(test_labels, dtype=np.int64)
    if test.size == 0:
        return 0.0
    return float(np.mean(test == majority_class(train_labels, n_classes)))
