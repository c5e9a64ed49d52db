// help.ts: the text of `peercache --help` and of `--help` for node, gateway and demo.

/** MAIN_HELP is printed by `peercache --help`. */
export const MAIN_HELP = `peercache: a distributed, in-memory, read-through cache (golang/groupcache compatible)

Usage:
  peercache node --self URL [--listen HOST:PORT] [--peers URL,URL,...] [--api HOST:PORT]
                 [--group NAME[:SIZE]]... [--loader MODULE | --origin URL]
                 [--ring KIND] [--replicas N] [--base-path PATH] [--log-level LEVEL]
                 [--peer-timeout DURATION] [--peer-health on|off]
                 [--drain-ms DURATION] [--workers N|auto]
                 [--transport tcp|http|grpc] [--tls-cert FILE --tls-key FILE]
                 [--tls-ca FILE] [--tls-client-auth] [--api-tls]
                 [--peer-secret SECRET] [--api-token TOKEN]
                 [--max-connections N] [--api-max-connections N]
                 [--max-inflight SIZE] [--api-max-inflight SIZE]
                 [--read-timeout MS] [--idle-timeout MS]
                 [--etcd URL,... [--service NAME] [--lease-ttl SECONDS]
                  [--etcd-prefix P] [--etcd-username U --etcd-password P]
                  [--etcd-ca FILE] [--etcd-cert FILE --etcd-key FILE] [--fail-fast]]
                 [--dns NAME [--dns-port N] | --dns-srv NAME]
                 [--dns-server HOST[:PORT],...] [--dns-interval DURATION] [--dry-run]
  peercache gateway (--etcd URL,... | --dns NAME --dns-port N | --dns-srv NAME
                    | --peers URL,...) --api HOST:PORT [--group NAME]... [--dry-run]
                 [--transport ...] [--tls-* ...] [--peer-secret ...] [--api-token ...]
                 [--service NAME] [--etcd-prefix P] [--ring KIND] [--replicas N]
                 [--log-level LEVEL]
                 [--peer-timeout DURATION] [--peer-health on|off]
  peercache demo [--api HOST:PORT] [--base-port N] [--log-level LEVEL]
  peercache --help | peercache node --help | peercache gateway --help
  peercache demo --help | peercache --version

Commands:
  node     run one cache node: a peer server, optionally the HTTP API
  gateway  serve the HTTP API for a cluster without being a member of it: it owns
           no keys, caches nothing and asks each key's owner
  demo     run a local 3-node cluster with the demo scores data (what \`npm start\` runs)

Run \`peercache node --help\` or \`peercache gateway --help\` for every flag.
`;

/** NODE_HELP is printed by `peercache node --help`. */
export const NODE_HELP = `Usage: peercache node --self URL [flags]

Runs one cache node. Each key has one owner among the peers (a consistent-hash ring,
the same as golang/groupcache's); a miss asks the owner, which loads the key once for
the whole cluster.

Flags:
  --self URL             this node's peer base URL and ring identity, e.g.
                         http://127.0.0.1:8001 (required). Every node must list it
                         exactly so in its --peers. The node listens there unless
                         --listen says otherwise.
  --listen HOST:PORT     where the peer server binds (e.g. 0.0.0.0:8001, [::]:8001).
                         Default: the host and port of --self.
  --peers URL,URL,...    the static member list, comma-separated; may include --self.
                         Default: none (a single node).
  --api HOST:PORT        also serve the HTTP API there (see below). Default: no API.
  --group NAME[:SIZE]    a group and its cache budget; repeat for several groups.
                         SIZE: 64MiB, 512KiB, 1GiB, 100MB, 10K or plain bytes.
                         Default: one group "scores" of 64MiB.
  --loader MODULE        an ES module (a path relative to the current directory, or a
                         package name) whose default export loads values:
                           export default async (key, { group, signal }) => value
                         returning a string or Uint8Array, or null/undefined when the
                         key does not exist; throwing fails the get.
  --origin URL           load each value with GET {URL}/{group}/{key} (group and key
                         percent-encoded): 2xx = the value, 404 = not found, other
                         statuses = an error.
                         Without --loader or --origin: the demo scores table
                         (Tom, Jack, Sam, Peter in group "scores", 50 ms per load).
  --ring KIND            how keys map to owners; all nodes must agree. golang
                         (golang/groupcache's), mailgun (mailgun/groupcache v2's),
                         groupcache-go (v3's) or balanced (peercache only, keys
                         spread evenly). Default balanced with --transport tcp
                         (no Go node speaks it), golang with http and grpc.
  --replicas N           points per peer on the Go rings; all nodes must agree.
                         Default 50. Not with --ring balanced.
  --base-path PATH       URL prefix of peer requests (http only). Default /_groupcache/.
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent. Default info.
  --peer-timeout DURATION  the longest wait for a peer's answer to one request, apart
                         from the loader's time limit: 500ms, 2s, or milliseconds.
                         Past it the key goes to its fallback owner (the next
                         live node on the ring), or is loaded here. Default 5s.
  --peer-health on|off   find peers that stop answering (a request waiting 500ms
                         with no answer from the peer triggers a probe; 2s without
                         an answer marks it unhealthy), send their keys at once to
                         their fallback owners (the next healthy node on the ring,
                         which loads each once for the cluster), and probe them
                         every second until they answer.
                         /peers and /metrics show each peer's health. Default on.
  --dry-run              check the flags, read the TLS files, check the certificate and
                         the --loader file, build the node and its membership, print
                         the config as JSON (secrets redacted) and exit 0; or print
                         the reason and exit 2. Binds no port, asks no one.
  --drain-ms DURATION    on SIGTERM the node tells its peers (they send its keys to
                         the next owners at once), leaves the membership, and keeps
                         serving peers and the API (/readyz answers 503) until no
                         /api request has come for 1s, at most this long, before it
                         closes: 2s, 500ms, milliseconds, or 0. Default 5s: time for
                         a load balancer polling /readyz to stop sending.
  --workers N|auto       run N processes (node:cluster; auto: one per core), each a
                         member of the ring on --self's port + its index (0..N-1,
                         --listen's likewise), all serving the one --api port. The
                         first process restarts a worker that dies (with backoff) and
                         passes SIGTERM on. With --peers, list every worker's URL on
                         the other nodes; with --etcd each registers itself; with
                         DNS, SRV records (--dns-srv) must list each worker's port.
                         Default 1.
  -h, --help             show this help.

Transport and security (every node of a cluster must agree on these):
  --transport tcp|http|grpc  the peer protocol. Default tcp: peercache's fast
                         multiplexed protocol, for clusters of peercache nodes. Use
                         http (golang/groupcache's) when Go groupcache nodes take part.
  --tls-cert FILE        serve peers over TLS with this certificate chain (PEM);
  --tls-key FILE         and its private key. --self and --peers are then https://.
  --tls-ca FILE          the CA peers' certificates must chain to. Default: Node's
                         public roots.
  --tls-client-auth      also require a client certificate from --tls-ca (mutual TLS).
  --api-tls              serve the API over HTTPS too, with --tls-cert/--tls-key
                         (no client certificates). Default: the API is plain HTTP.
  --peer-secret SECRET   a secret shared by all nodes, sent and required on every
                         peer request (401 without it). Default: none. Prefer the
                         environment variable PEERCACHE_PEER_SECRET: a flag is
                         visible to every user of the machine (ps).
  --api-token TOKEN      require "Authorization: Bearer TOKEN" on the API (all but
                         /healthz, /readyz and the console's page files; the page asks for
                         it). Or PEERCACHE_API_TOKEN. Default: none.
  Nothing listens beyond loopback unless --self, --listen or --api names such an
  address; when the peer server does with neither TLS nor a peer secret, or the
  API with neither --api-tls nor a token, the node logs a warning at start.

Limits (each server logs the limits in force at start, and refused connections
once per 10 s with a count):
  --max-connections N    connections the peer server keeps at once; more are closed
                         as they are accepted. Default: half the open-file limit
                         (ulimit -n), at most 4096.
  --api-max-connections N  the same for the API. Default: a quarter of the
                         open-file limit, at most 2048, so a flood on the peer port
                         leaves the API reachable.
  --max-inflight SIZE    request bytes the peer server receives or holds at once; a
                         request past it is refused at once, unread (http: 503,
                         grpc: UNAVAILABLE; tcp: its frame waits). Default 256MiB,
                         or twice the largest value when that is more (tcp: 128MiB).
  --api-max-inflight SIZE  the same for API PUT bodies. Default 256MiB.
  --read-timeout MS      a request must arrive in full (headers and body, or a
                         gRPC message) this long after it began, on both servers;
                         a slower one is cut (408). Default 30000.
  --idle-timeout MS      a connection with nothing in flight is closed after this
                         long, on both servers. Default 30000 (grpc peers: 300000).

Membership from etcd (instead of, or seeded by, --peers):
  --etcd URL,URL,...     etcd's client URLs (http://host:2379 or https://...): the
                         node registers --self under a lease and follows the others.
                         With --peers too, the list is used until etcd answers.
  --service NAME         the cluster's name in etcd. Default peercache.
  --lease-ttl SECONDS    the registration lease: a node that dies without leaving
                         drops out of the others' rings this long after. Default 10.
  --etcd-prefix P        where the keys live: P/NAME/nodes/URL. Default /peercache.
  --etcd-username U      etcd authentication, with --etcd-password P or (better)
  --etcd-password P      the environment variable PEERCACHE_ETCD_PASSWORD.
  --etcd-ca FILE         TLS to etcd (https:// endpoints): the CA of etcd's
  --etcd-cert FILE       certificate, and a client certificate and key for etcd's
  --etcd-key FILE        --client-cert-auth. Default: the system's roots, no client
                         certificate.
  --fail-fast            exit 1 when etcd cannot be reached at start. Default: log
                         the error, keep retrying, join once etcd answers.

Membership from DNS (instead of etcd; --peers seeds the ring until DNS answers):
  --dns NAME             the members are the A/AAAA records of NAME (a Kubernetes
                         headless Service, a Compose service), polled. Give the full
                         name (no search domains). --self must be this node's address
                         as the records write it: http://$(POD_IP):8001.
  --dns-port N           the members' peer port. Default: the port of --self.
  --dns-srv NAME         the members are the SRV records of NAME (e.g.
                         _peer._tcp.cache.example): each target's addresses, each
                         with its record's port.
  --dns-server HOST[:PORT],...  ask these DNS servers (IP addresses). Default: the
                         system's (/etc/resolv.conf).
  --dns-interval DURATION  time between lookups, with +-20% jitter. Default 5s.
                         A failed lookup keeps the last member set; so does an empty
                         answer until 3 lookups in a row agree.

HTTP API (with --api):
  GET    /api?key=K[&group=G]           the raw value (group optional with one group)
  PUT    /api?key=K[&group=G][&ttl=MS]  store the request body; ttl in milliseconds
  DELETE /api?key=K[&group=G]           remove the key everywhere
  POST   /clear?group=G                 empty the group on every node: {generation, unsupported}
  GET    /peers | /stats | /metrics | /healthz | /readyz
  /healthz is 200 while the process serves; /readyz is 200 once the node serves
  peers and has its members, and 503 from the moment it begins to leave.
  GET    /console/                      the web console (live cluster view, in a browser)
  Statuses: 400 bad request, 404 not found, 405 wrong method, 408 request too slow,
  413 body too large, 414 key or URL too long, 503 unavailable (or busy: see
  Retry-After), 504 deadline exceeded.

Output:
  Logs are JSON lines (pino) on stderr: one per load ("loaded"), peer error and
  membership change, and one at start ("started"). Once the peer server and the
  API are listening, stdout gets exactly one line: "ready <self URL>".
  SIGINT or SIGTERM shuts down gracefully (exit 0); a second signal exits at once.
  Exit codes: 0 after a clean shutdown or a sound --dry-run, 1 when the node cannot
  start (port taken, unreadable TLS file, etcd unreachable with --fail-fast), 2 for
  bad flags or a config --dry-run refuses.
  SIGINT or SIGTERM shuts down gracefully (exit 0): leave, drain (--drain-ms),
  close; a second signal exits at once.
  Exit codes: 0 after a clean shutdown, 1 when the node cannot start (port taken,
  unreadable TLS file, etcd unreachable with --fail-fast), 2 for bad flags.

Example (three terminals):
  peercache node --self http://127.0.0.1:8001 --api 127.0.0.1:9999 \\
    --peers http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003
  peercache node --self http://127.0.0.1:8002 --peers (the same list)
  peercache node --self http://127.0.0.1:8003 --peers (the same list)
  curl "http://127.0.0.1:9999/api?key=Tom"

With etcd (each node on its own machine; the secret from the environment):
  PEERCACHE_PEER_SECRET=... peercache node --self http://10.0.0.1:8001 \\
    --etcd http://10.0.0.9:2379 --service users --loader ./load-user.mjs
`;

/** GATEWAY_HELP is printed by `peercache gateway --help`. */
export const GATEWAY_HELP = `Usage: peercache gateway (--etcd URL,... | --peers URL,...) --api HOST:PORT [flags]

Serves the HTTP API for a cluster without being a member of it, so clients in any
language can use the cluster over plain HTTP. A gateway follows the membership (etcd
or a static list) but never registers and is on no node's ring; it owns no keys,
caches nothing (it would miss invalidations) and loads nothing: each get, set and
remove goes to the key's owner. When no owner answers, a get fails with 503.

Flags:
  --api HOST:PORT        where the API listens (required).
  --etcd URL,URL,...     follow the nodes registered in etcd (watch only).
  --peers URL,URL,...    the nodes' URLs (with --etcd: used until etcd answers).
  --group NAME           a group the nodes serve; repeat for several. A :SIZE
                         suffix is accepted and ignored. Default: scores.
  --service NAME         the cluster's name in etcd. Default peercache.
  --etcd-prefix P        where the keys live in etcd. Default /peercache.
  --etcd-username U, --etcd-password P (or PEERCACHE_ETCD_PASSWORD),
  --etcd-ca FILE, --etcd-cert FILE, --etcd-key FILE, --fail-fast: as for a node.
  --dns NAME --dns-port N, --dns-srv NAME
                         follow the nodes' DNS records, as a node does (--dns-port is
                         required: a gateway has no --self). With --tls-* flags the
                         nodes' URLs are https://.
  --dns-server HOST[:PORT],..., --dns-interval DURATION: as for a node.
  --ring KIND            the nodes' ring: golang, mailgun, groupcache-go or balanced.
                         Default as for a node: balanced with tcp, golang otherwise.
  --replicas N           ring points per peer: the nodes' value. Default 50.
  --base-path PATH       URL prefix of peer requests: the nodes' value (http only).
  --transport tcp|http|grpc  the nodes' peer protocol. Default tcp.
  --tls-ca FILE          the CA of the nodes' certificates (for https:// nodes).
  --tls-cert FILE        a client certificate and key, for nodes that require one
  --tls-key FILE         (--tls-client-auth); with --api-tls also the API's.
  --api-tls              serve the API over HTTPS with --tls-cert/--tls-key.
  --peer-secret SECRET   the nodes' peer secret (or PEERCACHE_PEER_SECRET).
  --api-token TOKEN      require a bearer token on the API (or PEERCACHE_API_TOKEN).
  --api-max-connections N, --api-max-inflight SIZE, --read-timeout MS,
  --idle-timeout MS      the API's limits, as for a node.
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent. Default info.
  --peer-timeout DURATION, --peer-health on|off: as for a node (an unhealthy node's
                         keys go at once to their fallback owners; with neither
                         answering, a get fails with 503: a gateway never loads).
  --dry-run              check the config and print it as JSON, as for a node.
  -h, --help             show this help.

The API is the node's: /api (GET, PUT, DELETE), /peers, /stats, /metrics, /healthz,
/readyz (see peercache node --help). /peers lists the nodes the gateway routes to.
Once the API listens, stdout gets one line: "ready <API URL>". Logs, signals and
exit codes are as for a node.

Example:
  peercache gateway --etcd http://10.0.0.9:2379 --service users --group users \\
    --api 127.0.0.1:9999
  curl "http://127.0.0.1:9999/api?group=users&key=42"
`;

/** DEMO_HELP is printed by `peercache demo --help`. */
export const DEMO_HELP = `Usage: peercache demo [--api HOST:PORT] [--base-port N] [--log-level LEVEL]

Starts a local cluster of 3 nodes (child processes of this one) with static
membership and the demo scores data, prints curl examples and which node owns each
demo key, and prefixes each node's log lines with its name (node1, node2, node3).
When all nodes are up, stdout gets the line "ready <API URL>". Ctrl-C stops them all.

Flags:
  --api HOST:PORT     the API of node1. Default 127.0.0.1:9999.
  --base-port N       peer ports N, N+1, N+2 on 127.0.0.1. Default: free ports from the OS.
  --log-level LEVEL   the nodes' log level. Default debug: each load shows.
  -h, --help          show this help.
`;
