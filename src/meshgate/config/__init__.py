"""Istio resources: load files, validate like istiod, select what applies to a workload."""
