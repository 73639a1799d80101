"""kNN classification on L2-normalised features with faiss (cosine = inner product).

Two protocols: k = 1 (CMD / HaLP: the label of the nearest training sample) and weighted
k = 20 (InstDisc / lightly / solo-learn: each neighbour votes exp(cos / T), T = 0.07).

Example:
    >>> import numpy as np
    >>> train = np.array([[1, 0], [0, 1], [1, 0.1]], np.float32); labels = np.array([0, 1, 0])
    >>> test = np.array([[0.9, 0.2], [0.1, 1]], np.float32)
    >>> knn_accuracy(train, labels, test, np.array([0, 1]), k=1, num_classes=2)["top1"]
    100.0
"""

from __future__ import annotations

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


_GPU_RESOURCES = []


def gpu_available(faiss) -> bool:
    """faiss-gpu (the `gpu` extra) is installed and sees a GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _gpu_resources(faiss):
    if not _GPU_RESOURCES:  # one set of scratch buffers per process, reused by every search
        _GPU_RESOURCES.append(faiss.StandardGpuResources())
    return _GPU_RESOURCES[0]


def nearest_neighbours(train: np.ndarray, test: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, indices), each (N_test, k), by cosine similarity, best first."""
    import faiss

    train, test = _normalise(train), _normalise(test)
    index = faiss.IndexFlatIP(train.shape[1])
    if gpu_available(faiss):  # faiss-gpu installed and a GPU visible: the same exact search there
        index = faiss.index_cpu_to_gpu(_gpu_resources(faiss), 0, index)
    index.add(train)
    return index.search(test, min(k, len(train)))


def knn_scores(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, k: int,
               num_classes: int, temperature: float = 0.07) -> np.ndarray:
    """(N_test, num_classes) class scores; k = 1 is a plain vote, k > 1 weights exp(cos / T)."""
    sims, idx = nearest_neighbours(train, test, k)
    weights = np.ones_like(sims) if k == 1 else np.exp(sims / temperature)
    votes = np.zeros((len(test), num_classes), dtype=np.float64)
    np.add.at(votes, (np.arange(len(test))[:, None], train_labels[idx]), weights)
    return votes


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, ks=(1, 5)) -> dict:
    order = np.argsort(-scores, axis=1, kind="stable")
    out = {}
    for k in ks:
        hit = (order[:, :k] == labels[:, None]).any(axis=1)
        out[f"top{k}"] = float(100.0 * hit.mean())
    return out


def knn_accuracy(train, train_labels, test, test_labels, k: int, num_classes: int,
                 temperature: float = 0.07) -> dict:
    scores = knn_scores(train, train_labels, test, k, num_classes, temperature)
    return topk_accuracy(scores, np.asarray(test_labels), ks=(1, 5) if k > 1 else (1,))
