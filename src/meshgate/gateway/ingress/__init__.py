"""meshgate as the ingress (docs/routing.md): listeners.py opens the ports Gateways ask for, routed.py is
the router between the gateway hop and the upstream (route, then the destination workload's hop), pools.py
keeps a keep-alive pool per endpoint and picks a cluster's endpoints in turn."""
