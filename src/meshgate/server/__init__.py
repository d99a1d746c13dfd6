"""What every serving process shares: state, reload, admin, runtime, metrics, access log."""
