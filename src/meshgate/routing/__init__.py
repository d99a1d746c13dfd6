"""Istio's ingress routing: Gateway, VirtualService and ServiceEntry (networking.istio.io), TLS Secrets.

The resources themselves are loaded, validated and built as values by config/ (config/networking/,
config/validation/). Here, pure: table.py builds, for one gateway workload, the listeners, SNI filter
chains and virtual hosts istiod would give its Envoy; compile.py turns VirtualServices into routes; match.py
and action.py decide a request as Envoy does.

The API the gateway uses (docs/routing.md):

    build = build_routing_table(resource_set, Workload(namespace, labels))   # table.py; pure
    build.table is None          -> no Gateway selects the workload: serve as before
    build.problems               -> file:line problems (errors refuse the config, like a load's)
    table.listeners              -> Listener(port, bind, chains): chain.tls (cert/key PEM), chain.server_names
    decision = table.route(Request(port, authority, path, method, headers, scheme, sni), random)
    decision.outcome             -> forward | redirect | direct_response | no_route | cluster_not_found
    decision.forward             -> cluster.endpoints[i] (address, port, workload), path, authority,
                                    request_headers.apply(...), response_headers, timeout_s
"""
