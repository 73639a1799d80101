"""Helpers that both the training engine (`sslskel.engine`) and evaluation (`sslskel.eval`) need.

A leaf package below both: device selection and autocast (`device`), learning-rate schedules
(`schedule`), atomic file writes (`io`), checkpoint save/load and RNG state (`checkpoint`),
feature extraction from an encoder (`features`), and top-k / kNN accuracy (`knn`). Its modules
may import `sslskel.data` and `sslskel.models` but never `sslskel.engine` or `sslskel.eval`
(tests/test_layering.py checks this).
"""
