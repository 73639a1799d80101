"""Graph-distance diagnostics (SkeletonGCL paper Tab. 9 / App. 6.4).

`graph_class_distances` measures, for graphs an encoder learned, how far each sample's graph
lies from the class centroids, separately for correctly and wrongly classified samples.
`predict_with_graphs` collects a fine-tuned model's scores and its last unit's graphs
(averaged over persons and channels, flattened: K*V*V values), and
`sslskel.eval.semi.graph_distance_diagnostics` applies both to the val set.
"""

from __future__ import annotations

import numpy as np
import torch

from ..common.device import autocast
from ..data.errors import DataFormatError
from ..methods.gcl import average_graphs


@torch.no_grad()
def predict_with_graphs(encoder, classifier, loader, device: torch.device, amp: str) -> dict[str, np.ndarray]:
    """Scores (N, classes), labels and flattened graphs (N, K*V*V) in data order, in eval mode."""
    encoder.eval()
    classifier.eval()
    scores, labels, flat = [], [], []
    for batch in loader:
        x = batch.views[0].to(device)
        with autocast(device, amp):
            feats, graphs = encoder(x, batch.lengths[:, 0].to(device), return_graphs=True)
            logits = classifier(feats.float())
        flat.append(average_graphs(graphs.float(), graphs.shape[0] // x.shape[0]).cpu())
        scores.append(logits.float().cpu())
        labels.append(batch.labels)
    return {"scores": torch.cat(scores).numpy(), "labels": torch.cat(labels).numpy(),
            "graphs": torch.cat(flat).numpy()}


def graph_class_distances(embeddings: torch.Tensor, labels: torch.Tensor,
                          predictions: torch.Tensor) -> dict[str, float]:
    """Paper Tab. 9 / App. 6.4: squared Euclidean distances of each graph to class centroids.

    embeddings (N, D): projected or flattened (averaged) graphs; centroids s_c are the mean of
    the samples whose TRUE label is c, over the classes present. Per group (correct / wrong):
    dist_all = mean_k ||g - s_k||^2 over all present classes (Eq. 10), dist_own = ||g - s_label||^2
    (Eq. 11), dist_other = mean over the other present classes; for wrong samples also
    dist_predicted = ||g - s_prediction||^2 (Eq. 12; NaN when the predicted class has no sample).
    Each value is a mean over the group's samples (NaN for an empty group).
    """
    n = embeddings.shape[0]
    if embeddings.dim() != 2:
        raise DataFormatError("graph_class_distances", "embeddings", "shape (N, D)",
                              str(tuple(embeddings.shape)))
    for name, t in (("labels", labels), ("predictions", predictions)):
        if t.shape != (n,):
            raise DataFormatError("graph_class_distances", name, f"shape ({n},)", str(tuple(t.shape)))
    g = embeddings.detach().double()
    labels, predictions = labels.long().to(g.device), predictions.long().to(g.device)
    num_classes = int(torch.cat([labels, predictions]).max()) + 1 if n else 0
    counts = torch.bincount(labels, minlength=num_classes).to(g.dtype)
    sums = torch.zeros(num_classes, g.shape[1], dtype=g.dtype, device=g.device).index_add_(0, labels, g)
    present = counts > 0
    centroids = sums / counts.clamp(min=1)[:, None]
    dist = torch.cdist(g, centroids).pow(2)  # (N, num_classes)
    dist = dist.masked_fill(~present[None, :], float("nan"))
    own = dist.gather(1, labels[:, None]).squeeze(1)
    all_mean = torch.nanmean(dist, dim=1)
    num_present = present.sum().to(g.dtype)
    other = (all_mean * num_present - own) / (num_present - 1)
    predicted = dist.gather(1, predictions[:, None]).squeeze(1)
    correct = labels == predictions

    def group_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
        return float(values[mask].mean()) if bool(mask.any()) else float("nan")

    result = {"correct_count": int(correct.sum()), "wrong_count": int((~correct).sum())}
    for group, mask in (("correct", correct), ("wrong", ~correct)):
        result[f"{group}_dist_all"] = group_mean(all_mean, mask)
        result[f"{group}_dist_own"] = group_mean(own, mask)
        result[f"{group}_dist_other"] = group_mean(other, mask)
    result["wrong_dist_predicted"] = group_mean(predicted, ~correct)
    return result
