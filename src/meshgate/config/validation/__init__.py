"""istiod's validation of each kind, message for message, over a decoded spec."""
