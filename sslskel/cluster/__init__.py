"""Clustering on the unit hypersphere (HaLP's prototypes)."""

from sslskel.cluster.spherical_kmeans import BACKENDS, angular_inertia, fit_prototypes

__all__ = ["BACKENDS", "angular_inertia", "fit_prototypes"]
