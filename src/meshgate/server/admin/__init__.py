"""The admin port: readiness, Prometheus stats, the config dump and the admin page."""
