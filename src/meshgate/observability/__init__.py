"""Operations output: Prometheus metrics under Envoy/Istio names and the Envoy-format access log."""

from meshgate.observability.access_log import AccessLog, AccessLogEntry
from meshgate.observability.metrics import Metrics

__all__ = ["AccessLog", "AccessLogEntry", "Metrics"]
