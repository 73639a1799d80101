import numpy as np
import pytest

from sslskel.common.knn import knn_accuracy, knn_scores, topk_accuracy


def reference_scores(train, train_labels, test, k, num_classes, t):
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    out = np.zeros((len(test), num_classes))
    for i, x in enumerate(test):
        sims = train @ x
        for j in np.argsort(-sims, kind="stable")[:k]:
            out[i, train_labels[j]] += 1.0 if k == 1 else np.exp(sims[j] / t)
    return out


@pytest.mark.parametrize("k", [1, 5, 20])
def test_knn_scores_match_brute_force(k):
    rng = np.random.default_rng(k)
    train, test = rng.normal(size=(60, 16)), rng.normal(size=(15, 16))
    labels = rng.integers(0, 4, size=60)
    got = knn_scores(train.astype(np.float32), labels, test.astype(np.float32), k, 4, 0.07)
    want = reference_scores(train, labels, test, k, 4, 0.07)
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_topk_accuracy_by_hand():
    scores = np.array([[0.1, 0.9, 0.0], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5]])
    acc = topk_accuracy(scores, np.array([1, 2, 0]), ks=(1, 2))
    assert acc == {"top1": pytest.approx(100 / 3), "top2": pytest.approx(200 / 3)}


def test_identical_features_give_perfect_1nn():
    x = np.eye(5, dtype=np.float32)
    assert knn_accuracy(x, np.arange(5), x, np.arange(5), k=1, num_classes=5)["top1"] == 100.0


def test_faiss_gpu_is_used_when_installed_and_a_gpu_is_visible(monkeypatch):
    """With faiss-gpu (the `gpu` extra) and a GPU, the flat index moves to GPU 0; faked here,
    since CI has neither: the fake 'moves' it by recording the call."""
    import faiss

    from sslskel.common import knn

    moved = []
    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: "resources", raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", lambda res, dev, index: moved.append((res, dev)) or index,
                        raising=False)
    monkeypatch.setattr(knn, "_GPU_RESOURCES", [])
    train = np.eye(3, dtype=np.float32)
    sims, idx = knn.nearest_neighbours(train, train, k=1)
    assert moved == [("resources", 0)] and idx[:, 0].tolist() == [0, 1, 2]
