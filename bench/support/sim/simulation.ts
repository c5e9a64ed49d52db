// simulation.ts: a simulated cluster of real CacheNodes in one process, over one MemoryNetwork,
// driven by a skewed workload and membership churn, measuring what scale costs and breaks.
import type { Group, GroupOptions } from '../../../src/core/group.js';
import { type CacheNode, createNode, type NodeOptions } from '../../../src/node/node.js';
import { MemoryNetwork, memoryTransport } from '../../../src/transport/memory/index.js';
import { seededRandom, ZipfSampler } from './zipf.js';

/**
 * RingKind is the type of createNode's `ring` option (the ring kind), or a
 * string while NodeOptions has no such option: the simulation passes it through.
 */
export type RingKind = NodeOptions extends { ring?: infer R }
  ? unknown extends R
    ? string
    : NonNullable<R>
  : string;

/** ChurnKind is one membership event: a node joins, leaves gracefully, or hangs. */
export type ChurnKind = 'join' | 'leave' | 'hang';

/** SimulationOptions configure {@link runSimulation}; every field but `nodes` has a default. */
export interface SimulationOptions {
  /** nodes is the number of members at the start. */
  nodes: number;
  /** keys is the size of the key space. Default 100 per node. */
  keys?: number;
  /** zipf is the exponent of the keys' popularity (0 is uniform). Default 1. */
  zipf?: number;
  /** hotKeys is how many of the most popular keys the hot-cache share is measured on. Default 100. */
  hotKeys?: number;
  /** seconds is how long the workload runs, in simulated seconds. Default 30. */
  seconds?: number;
  /**
   * getsPerSecond is the cluster's rate of gets, in simulated time. Default 50
   * per node, so each node sends and serves as much at every size.
   */
  getsPerSecond?: number;
  /**
   * waveMs is the simulated time one wave of gets stands for: the gets of a
   * wave are sent at once and the next wave starts when they have all ended;
   * membership changes between waves. Default 100.
   */
  waveMs?: number;
  /** churnEverySeconds is the simulated time between two membership events; 0 for none. Default 3. */
  churnEverySeconds?: number;
  /** churn is the cycle of events, repeated. Default join, leave, join, hang (the size stays put). */
  churn?: readonly ChurnKind[];
  /**
   * hangSeconds is how long, in simulated time, a hung node stays a member
   * before it is removed (as a membership lease would run out). Default 2.
   */
  hangSeconds?: number;
  /** valueBytes is the size of every value. Default 64. */
  valueBytes?: number;
  /** cacheBytes is each group's budget on each node. Default 1 MiB. */
  cacheBytes?: number;
  /** seed makes the workload and the churn repeatable. Default 1. */
  seed?: number;
  /**
   * ring names the ring kind, passed to createNode as its `ring` option;
   * undefined leaves createNode's default.
   */
  ring?: RingKind | undefined;
  /** node is merged into every node's createNode options (peer health, timeouts...). */
  node?: Partial<NodeOptions> | undefined;
  /** group is merged into the options of every node's two groups (e.g. `fallbackTtl`). */
  group?: Partial<GroupOptions> | undefined;
  /** heapBytes, when given, measures the heap (after a collection) to report memory per node. */
  heapBytes?: (() => number) | undefined;
  /** log receives a line per membership event. */
  log?: ((line: string) => void) | undefined;
}

/** SimulationResult is what {@link runSimulation} measured. */
export interface SimulationResult {
  /** Members at the start and at the end, and the events that ran. */
  nodes: { initial: number; final: number; joined: number; left: number; hung: number };
  /** Gets sent by the workload, and those that failed (target 0), with a few of their errors. */
  gets: number;
  failedGets: number;
  failures: string[];
  /**
   * Ownership periods: a key's run of gets with one owner (the ring's owner,
   * or its fallback owner while that owner hangs). Each starts when a key is
   * asked for under an owner other than the last one it was asked for under.
   */
  periods: number;
  /** Runs of the loader, over every node. */
  loads: number;
  /**
   * loadsPerPeriod is loads, fallback reloads apart, over periods (target 1;
   * below 1 when an owner still held a key).
   */
  loadsPerPeriod: number;
  /**
   * Loads beyond the first of a key within one period of a live owner (target 0):
   * loads the cluster-wide singleflight should have saved.
   */
  duplicateLoads: number;
  /** The most loads of one key within one period of a live owner (target 1). */
  maxLoadsInAPeriod: number;
  /**
   * Loads beyond the first of a key while its owner hangs: its fallback owner
   * keeps a fallback copy only `fallbackTtl` (2 s by default), then loads it
   * again, by design; a hang longer than that costs a load per key per `fallbackTtl`.
   */
  fallbackReloads: number;
  /** Gets of the `hotKeys` most popular keys, and the share a hot cache answered. */
  hot: { keys: number; gets: number; hotHits: number; share: number; workloadShare: number };
  /** Peer requests served per node per simulated second: mean, max and max / mean. */
  requests: { mean: number; max: number; balance: number };
  /** The busiest member's share of 20,000 uniform keys over the mean, on the final ring. */
  ringBalance: number;
  /** Time one node took to apply a membership change (its ring rebuild and clients), mean ms. */
  changeMsPerNode: number;
  /** Setting up the cluster: ms per node (createNode, listen, ring and clients of every peer). */
  setupMsPerNode: number;
  /** Heap per node after setup and after the workload, in bytes, when `heapBytes` was given. */
  memory?: { perNodeAtSetup: number; perNodeAtEnd: number } | undefined;
  /** Wall-clock time of the whole run. */
  wallMs: number;
}

/**
 * Options of every simulated node: health checks far quicker than the defaults,
 * as a run goes in real time and every node that asks a hung peer waits out its
 * own detection once. They cannot take a live node for a hung one: over the
 * memory network a live node answers a probe in promise jobs, before any timer
 * of the process can fire, however busy the machine.
 */
const NODE_DEFAULTS: Partial<NodeOptions> = {
  peerTimeoutMs: 5_000,
  shutdownGraceMs: 500,
  peerHealth: { suspectAfterMs: 20, probeTimeoutMs: 100, probeIntervalMs: 100 },
};

/** How an ownership period names the fallback owner of a hung node's keys. */
const FALLBACK = 'fallback of ';

/** A node of the simulation, with when it was a member (in waves). */
interface SimNode {
  node: CacheNode;
  url: string;
  host: string;
  top: Group;
  rest: Group;
  fromWave: number;
  toWave: number | undefined;
}

/**
 * runSimulation runs a cluster of `nodes` real CacheNodes (createNode, each
 * with its own memory transport on one shared MemoryNetwork, a fake URL as
 * `self`, and two groups with a counting loader: `top` for the `hotKeys` most
 * popular keys, `rest` for the others) under a Zipf workload sent to random
 * members, with a membership event every `churnEverySeconds`: a node joins, a
 * node leaves (removed from every ring, then closed), or a node hangs (its
 * address stops answering; the others' health checks must notice, and it is
 * removed `hangSeconds` later). Membership changes reach every node at once,
 * between waves of gets. Simulated time counts waves; the nodes' own timers
 * (health probes, deadlines, fallback copies' expiry) run on the real clock,
 * which is why their health checks are tuned to tens of ms here.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const started = performance.now();
  const o = {
    keys: options.keys ?? options.nodes * 100,
    zipf: options.zipf ?? 1,
    hotKeys: options.hotKeys ?? 100,
    seconds: options.seconds ?? 30,
    getsPerSecond: options.getsPerSecond ?? options.nodes * 50,
    waveMs: options.waveMs ?? 100,
    churnEverySeconds: options.churnEverySeconds ?? 3,
    churn: options.churn ?? (['join', 'leave', 'join', 'hang'] as const),
    hangSeconds: options.hangSeconds ?? 2,
    valueBytes: options.valueBytes ?? 64,
    cacheBytes: options.cacheBytes ?? 1 << 20,
  };
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 2) {
    throw new RangeError(`nodes must be an integer >= 2: ${options.nodes}`);
  }
  const random = seededRandom(options.seed ?? 1);
  const zipf = new ZipfSampler(o.keys, o.zipf, random);
  const log = options.log ?? (() => {});
  const network = new MemoryNetwork();
  const wavesPerSecond = 1_000 / o.waveMs;
  const totalWaves = Math.round(o.seconds * wavesPerSecond);
  const getsPerWave = Math.max(1, Math.round((o.getsPerSecond * o.waveMs) / 1_000));
  const churnEvery = Math.round(o.churnEverySeconds * wavesPerSecond);
  const hangWaves = Math.max(1, Math.round(o.hangSeconds * wavesPerSecond));

  // Ownership periods, by key rank: the owner a key was last asked for under,
  // and the loads since.
  const lastOwner: (string | undefined)[] = new Array(o.keys);
  const loadsInPeriod = new Uint32Array(o.keys);
  let periods = 0;
  let loads = 0;
  let duplicateLoads = 0;
  let maxLoadsInAPeriod = 0;
  let fallbackReloads = 0;
  const rankOf = (key: string) => Number(key.slice(4));
  const pad = 'x'.repeat(Math.max(0, o.valueBytes));
  const load = (key: string) => {
    const rank = rankOf(key);
    loads++;
    const n = ++loadsInPeriod[rank]!;
    if (lastOwner[rank]?.startsWith(FALLBACK) === true) {
      if (n > 1) fallbackReloads++;
    } else {
      if (n > 1) duplicateLoads++;
      if (n > maxLoadsInAPeriod) maxLoadsInAPeriod = n;
    }
    return (key + pad).slice(0, o.valueBytes);
  };

  const all: SimNode[] = [];
  const live: SimNode[] = [];
  const hung = new Set<SimNode>();
  let nextIndex = 0;
  let wave = 0;
  let changeMs = 0;
  let changes = 0;

  const makeNode = async (peers: readonly string[]): Promise<SimNode> => {
    const i = nextIndex++;
    const host = `n${i}.sim`;
    const url = `http://${host}:8001`;
    const node = createNode({
      ...NODE_DEFAULTS,
      ...options.node,
      // The ring kind goes through as given; createNode's own default otherwise.
      ...(options.ring !== undefined ? { ring: options.ring } : {}),
      self: url,
      peers,
      transport: memoryTransport(network, { requestTimeoutMs: 5_000 }),
    });
    const group = (name: string) =>
      node.newGroup(name, { cacheBytes: o.cacheBytes, ...options.group, load: (key) => load(key) });
    const sim: SimNode = {
      node,
      url,
      host,
      top: group('top'),
      rest: group('rest'),
      fromWave: wave,
      toWave: undefined,
    };
    await node.listen();
    all.push(sim);
    return sim;
  };

  /** setMembers gives every live node the members' URLs, timing each node's change. */
  const setMembers = () => {
    const urls = live.map((n) => n.url);
    const t = performance.now();
    for (const n of live) n.node.setPeers(urls, 'sim');
    changeMs += performance.now() - t;
    changes += live.length;
  };

  // The cluster: every node starts with the full member list.
  const heap = options.heapBytes;
  const heapBefore = heap?.();
  const setupStarted = performance.now();
  const urls0 = Array.from({ length: options.nodes }, (_, i) => `http://n${i}.sim:8001`);
  for (let i = 0; i < options.nodes; i++) live.push(await makeNode(urls0));
  const setupMsPerNode = (performance.now() - setupStarted) / options.nodes;
  const heapAtSetup = heap?.();

  const counts = { joined: 0, left: 0, hung: 0 };
  const removals = new Map<number, SimNode[]>();
  const pickLive = (): SimNode | undefined => {
    const candidates = live.filter((n) => !hung.has(n));
    return candidates[Math.floor(random() * candidates.length)];
  };
  const remove = async (gone: SimNode) => {
    live.splice(live.indexOf(gone), 1);
    gone.toWave = wave;
    setMembers();
    await gone.node.close();
    // A hung node resumes only once closed: the requests it held then find no
    // server, rather than loading keys that have another owner by now.
    if (hung.delete(gone)) network.resume(gone.host, 8001);
  };
  const churn = async (kind: ChurnKind) => {
    switch (kind) {
      case 'join': {
        const joining = await makeNode([
          ...live.map((n) => n.url),
          `http://n${nextIndex}.sim:8001`,
        ]);
        live.push(joining);
        setMembers();
        counts.joined++;
        log(`wave ${wave}: ${joining.url} joined (${live.length} members)`);
        return;
      }
      case 'leave': {
        const leaving = pickLive();
        if (leaving === undefined || live.length <= 2) return;
        await remove(leaving);
        counts.left++;
        log(`wave ${wave}: ${leaving.url} left (${live.length} members)`);
        return;
      }
      case 'hang': {
        const stuck = pickLive();
        if (stuck === undefined || live.length - hung.size <= 2) return;
        network.hang(stuck.host, 8001);
        hung.add(stuck);
        const at = wave + hangWaves;
        removals.set(at, [...(removals.get(at) ?? []), stuck]);
        counts.hung++;
        log(`wave ${wave}: ${stuck.url} hangs, removed at wave ${at}`);
        return;
      }
    }
  };

  // The workload.
  /** The node whose ring names owners for the measures: every member's ring is the same. */
  const observer = () => live[0]?.node as CacheNode;
  let gets = 0;
  let failedGets = 0;
  let hotGets = 0;
  const failures: string[] = [];
  let events = 0;
  for (wave = 0; wave < totalWaves; wave++) {
    for (const gone of removals.get(wave) ?? []) {
      await remove(gone);
      log(`wave ${wave}: hung ${gone.url} removed (${live.length} members)`);
    }
    removals.delete(wave);
    if (churnEvery > 0 && wave > 0 && wave % churnEvery === 0) {
      await churn(o.churn[events++ % o.churn.length] as ChurnKind);
    }
    const asked: Promise<unknown>[] = [];
    const senders = live.filter((n) => !hung.has(n));
    const hungUrls = new Set([...hung].map((n) => n.url));
    const ring = observer();
    for (let g = 0; g < getsPerWave; g++) {
      const rank = zipf.next();
      const key = `key-${rank}`;
      const ringOwner = ring.ownerOf(key);
      const owner = hungUrls.has(ringOwner) ? `${FALLBACK}${ringOwner}` : ringOwner;
      if (lastOwner[rank] !== owner) {
        lastOwner[rank] = owner;
        loadsInPeriod[rank] = 0;
        periods++;
      }
      const from = senders[Math.floor(random() * senders.length)] as SimNode;
      const top = rank < o.hotKeys;
      if (top) hotGets++;
      gets++;
      asked.push(
        (top ? from.top : from.rest).get(key).catch((err: unknown) => {
          failedGets++;
          if (failures.length < 5) {
            failures.push(`${from.url} ${key}: ${err instanceof Error ? err.message : err}`);
          }
        }),
      );
    }
    await Promise.all(asked);
  }
  const heapAtEnd = heap?.();

  // The measures.
  let hotHits = 0;
  for (const n of all) hotHits += n.top.cacheStats('hot').hits;
  const rates: number[] = [];
  for (const n of all) {
    const waves = (n.toWave ?? totalWaves) - n.fromWave;
    // Nodes that were members for under a quarter of the run say little about balance.
    if (waves < totalWaves / 4) continue;
    const served = n.top.stats.serverRequests + n.rest.stats.serverRequests;
    rates.push((served / waves) * wavesPerSecond);
  }
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const max = Math.max(...rates);
  const owned = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const owner = observer().ownerOf(`uniform-${i}`);
    owned.set(owner, (owned.get(owner) ?? 0) + 1);
  }
  const ringBalance = Math.max(...owned.values()) / (20_000 / live.length);
  const final = live.length;

  await Promise.all(live.map((n) => n.node.close()));
  for (const n of hung) network.resume(n.host, 8001);
  const bare = heapBefore ?? 0;
  return {
    nodes: { initial: options.nodes, final, ...counts },
    gets,
    failedGets,
    failures,
    periods,
    loads,
    loadsPerPeriod: periods === 0 ? 0 : (loads - fallbackReloads) / periods,
    duplicateLoads,
    maxLoadsInAPeriod,
    fallbackReloads,
    hot: {
      keys: Math.min(o.hotKeys, o.keys),
      gets: hotGets,
      hotHits,
      share: hotGets === 0 ? 0 : hotHits / hotGets,
      workloadShare: zipf.share(o.hotKeys),
    },
    requests: { mean, max, balance: mean === 0 ? 0 : max / mean },
    ringBalance,
    changeMsPerNode: changes === 0 ? 0 : changeMs / changes,
    setupMsPerNode,
    memory:
      heapAtSetup !== undefined && heapAtEnd !== undefined
        ? {
            perNodeAtSetup: (heapAtSetup - bare) / options.nodes,
            perNodeAtEnd: (heapAtEnd - bare) / final,
          }
        : undefined,
    wallMs: performance.now() - started,
  };
}
