// help.ts: the text of `peercache --help`, `peercache node --help` and `peercache demo --help`.

/** MAIN_HELP is printed by `peercache --help`. */
export const MAIN_HELP = `peercache: a distributed, in-memory, read-through cache (golang/groupcache compatible)

Usage:
  peercache node --self URL [--listen HOST:PORT] [--peers URL,URL,...] [--api HOST:PORT]
                 [--group NAME[:SIZE]]... [--loader MODULE | --origin URL]
                 [--replicas N] [--base-path PATH] [--log-level LEVEL]
  peercache demo [--api HOST:PORT] [--base-port N] [--log-level LEVEL]
  peercache --help | peercache node --help | peercache demo --help | peercache --version

Commands:
  node    run one cache node: a peer server, optionally the HTTP API
  demo    run a local 3-node cluster with the demo scores data (what \`npm start\` runs)

Run \`peercache node --help\` for every flag of a node.
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
  --replicas N           points per peer on the ring; all nodes must agree. Default 50.
  --base-path PATH       URL prefix of peer requests. Default /_groupcache/.
  --log-level LEVEL      fatal, error, warn, info, debug, trace or silent. Default info.
  -h, --help             show this help.

HTTP API (with --api):
  GET    /api?key=K[&group=G]           the raw value (group optional with one group)
  PUT    /api?key=K[&group=G][&ttl=MS]  store the request body; ttl in milliseconds
  DELETE /api?key=K[&group=G]           remove the key everywhere
  GET    /peers | /stats | /metrics | /healthz
  Statuses: 400 bad request, 404 not found, 405 wrong method, 413 body too large,
  414 key or URL too long, 503 unavailable, 504 deadline exceeded.

Output:
  Logs are JSON lines (pino) on stderr: one per load ("loaded"), peer error and
  membership change, and one at start ("started"). Once the peer server and the
  API are listening, stdout gets exactly one line: "ready <self URL>".
  SIGINT or SIGTERM shuts down gracefully (exit 0); a second signal exits at once.
  Exit codes: 0 after a clean shutdown, 1 when the node cannot start, 2 for bad flags.

Example (three terminals):
  peercache node --self http://127.0.0.1:8001 --api 127.0.0.1:9999 \\
    --peers http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003
  peercache node --self http://127.0.0.1:8002 --peers (the same list)
  peercache node --self http://127.0.0.1:8003 --peers (the same list)
  curl "http://127.0.0.1:9999/api?key=Tom"
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
  --log-level LEVEL   the nodes' log level. Default info.
  -h, --help          show this help.
`;
