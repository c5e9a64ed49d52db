// go-interop.test.ts: a mixed cluster of 2 golang/groupcache peers and 2 peercache nodes, one
// peer list for all: same owners, one load per key, byte-exact values, Go's fallback; and a
// Go peer and a peercache node over mutual TLS.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ring } from '../src/ring/ring.js';
import { makeTestCerts } from './support/certs.js';
import { type GoPeer, GoPeerError, goPeerBinary, startGoPeer } from './support/gopeer.js';
import { keysPerOwner } from './support/owned-keys.js';
import { type PeercacheNode, startPeercacheNode, sumLoads } from './support/peercache.js';
import { cleanupAfter, freePorts } from './support/process.js';
import { testErrorText, testValue } from './support/values.js';

const build = await goPeerBinary();
const skip = typeof build === 'string' ? false : build.skip;

/** Answer is what a get through one member gave: a value, or an HTTP status and text. */
type Answer = { value: Uint8Array } | { status: number; text: string };

/** Member is one node of the mixed cluster, Go or peercache, asked the same way. */
interface Member {
  kind: 'go' | 'peercache';
  url: string;
  /** get asks the node for `key` (Go: its control `/get`; peercache: `/api`). */
  get(key: string): Promise<Answer>;
  /** loads counts this node's loader runs per key (Go: all runs; peercache: successful ones). */
  loads(): Promise<Record<string, number>>;
}

function goMember(peer: GoPeer): Member {
  return {
    kind: 'go',
    url: peer.url,
    async get(key) {
      try {
        return { value: await peer.get(key) };
      } catch (err) {
        if (err instanceof GoPeerError) return { status: err.status, text: err.message };
        throw err;
      }
    },
    loads: () => peer.loads(),
  };
}

function peercacheMember(node: PeercacheNode): Member {
  return {
    kind: 'peercache',
    url: node.url,
    async get(key) {
      const res = await node.get(key);
      return res.status === 200 ? { value: res.body } : { status: res.status, text: res.text };
    },
    async loads() {
      await node.syncLogs();
      return node.loads();
    },
  };
}

const label = (key: string) => JSON.stringify(key);

describe('a mixed cluster: 2 Go groupcache peers and 2 peercache nodes', {
  skip,
  timeout: 120_000,
}, () => {
  const registry = cleanupAfter();
  const ring = new Ring();
  let goPeers: GoPeer[] = [];
  let ours: PeercacheNode[] = [];
  let members: Member[] = [];

  before(async () => {
    const ports = await freePorts(8);
    const urls = ports.slice(0, 4).map((port) => `http://127.0.0.1:${port}`);
    ring.set(urls);
    // Go at positions 0 and 2, peercache at 1 and 3 of the one list every node gets.
    [goPeers, ours] = await Promise.all([
      Promise.all(
        [0, 2].map((i, j) =>
          startGoPeer({ self: urls[i]!, peers: urls, controlPort: ports[4 + j]!, registry }),
        ),
      ),
      Promise.all(
        [1, 3].map((i, j) =>
          startPeercacheNode({ self: urls[i]!, peers: urls, apiPort: ports[6 + j]!, registry }),
        ),
      ),
    ]);
    members = [goMember(goPeers[0]!), peercacheMember(ours[0]!), goMember(goPeers[1]!)];
    members.push(peercacheMember(ours[1]!));
  });

  const ownerOf = (key: string) => ring.get(key)!;
  const memberAt = (url: string) => {
    const member = members.find((m) => m.url === url);
    assert.ok(member, `no member ${url}`);
    return member;
  };
  const allLoads = () => Promise.all(members.map((m) => m.loads()));
  /** The first key `${prefix}${i}` owned by each member, in member order. */
  const oneKeyPerOwner = (prefix: string) =>
    members.map((m) => {
      for (let i = 0; ; i++) if (ownerOf(`${prefix}${i}`) === m.url) return `${prefix}${i}`;
    });
  const assertValue = (got: Answer, want: Uint8Array, what: string) => {
    assert.ok('value' in got, `${what}: ${JSON.stringify(got)}`);
    assert.ok(Buffer.from(got.value).equals(want), `${what}: wrong bytes (${got.value.length})`);
  };

  it("every Go peer names our Ring's owner for every key", async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `owner-${i}`).concat([
      'a b',
      'x+y',
      'a/b/c',
      '100%',
      'ключ',
      '日本語-🎉',
    ]);
    for (const key of keys) {
      const answers = await Promise.all(goPeers.map((p) => p.owner(key)));
      assert.deepEqual(answers, [ownerOf(key), ownerOf(key)], `owner of ${label(key)}`);
    }
    const owners = new Set(keys.map(ownerOf));
    assert.equal(owners.size, 4, 'the keys should spread over all four nodes');
  });

  it('each key asked on all 4 nodes is loaded once in the cluster, on its owner', async () => {
    const keys = keysPerOwner(
      members.map((m) => m.url),
      ownerOf,
      10,
      (i) => `mixed-${i}`,
    );
    const answers = await Promise.all(
      keys.flatMap((key) => members.map(async (m) => ({ key, m, got: await m.get(key) }))),
    );
    for (const { key, m, got } of answers) assertValue(got, testValue(key)!, `${key} via ${m.url}`);

    const loads = await allLoads();
    for (const key of keys) {
      const where = members.filter((_, i) => loads[i]![key] !== undefined).map((m) => m.url);
      assert.deepEqual(where, [ownerOf(key)], `node(s) that loaded ${key}`);
      assert.equal(sumLoads(loads, key), 1, `loads of ${key}`);
    }
  });

  it('values round-trip byte-exact through every node, odd keys and sizes included', async () => {
    const keys = [
      ...oneKeyPerOwner('space key '),
      ...oneKeyPerOwner('plus+key+'),
      'a/b/c',
      '/leading-slash',
      '100%',
      '%41%2F',
      'a b+c/d%e ü',
      'ключ',
      '日本語-🎉',
      'size:1000',
      'size:1',
      'size:0',
      'empty-value',
      'size:1048576',
    ];
    let goToGo = 0;
    for (const key of keys) {
      const owner = ownerOf(key);
      const want = testValue(key)!;
      const answers = await Promise.all(members.map((m) => m.get(key)));
      for (const [i, got] of answers.entries()) {
        const via = members[i]!;
        const what = `${label(key)} via ${via.kind} ${via.url} (owner ${memberAt(owner).kind})`;
        if (
          via.kind === 'go' &&
          memberAt(owner).kind === 'go' &&
          via.url !== owner &&
          key.includes(' ')
        ) {
          // The known Go bug (ANCHORS §1): Go's client sends a space as "+" and a Go server
          // keeps "+", so between two Go peers the key arrives with "+" for each space.
          assertValue(got, testValue(key.replaceAll(' ', '+'))!, `${what}, Go to Go`);
          goToGo++;
        } else {
          assertValue(got, want, what);
        }
      }
      const loads = await allLoads();
      assert.equal(sumLoads(loads, key), 1, `loads of ${label(key)}`);
      assert.equal(loads[members.indexOf(memberAt(owner))]![key], 1, `${label(key)} on its owner`);
    }
    assert.ok(goToGo > 0, 'a space key went from one Go peer to another');
  });

  it('a space key through a Go peer reaches a peercache owner intact ("+" decodes as space)', async () => {
    // The same request that goes wrong between two Go peers is right when we own the key.
    for (const owner of ours) {
      const key = oneKeyPerOwner('go to us ')[members.findIndex((m) => m.url === owner.url)]!;
      for (const peer of goPeers) {
        assert.deepEqual(await peer.get(key), testValue(key), `${label(key)} via ${peer.url}`);
      }
      await owner.syncLogs();
      assert.equal(owner.loads()[key], 1);
      assert.equal(owner.loads()[key.replaceAll(' ', '+')], undefined);
    }
  });

  it("a Go get of a missing key owned by peercache: our 404 is Go's peer error, it loads itself", async () => {
    const [owner] = ours as [PeercacheNode, PeercacheNode];
    const key = oneKeyPerOwner('missing-from-go-')[members.findIndex((m) => m.url === owner.url)]!;
    const [goPeer] = goPeers as [GoPeer, GoPeer];
    const goBefore = await goPeer.stats();
    const ownerBefore = await owner.stats();

    await assert.rejects(goPeer.get(key), (err: unknown) => {
      assert.ok(err instanceof GoPeerError);
      assert.equal(err.status, 500);
      assert.equal(err.message, testErrorText(key));
      return true;
    });
    const goAfter = await goPeer.stats();
    assert.equal(goAfter.PeerErrors, goBefore.PeerErrors + 1, 'Go counted a peer error');
    assert.equal((await goPeer.loads())[key], 1, 'Go fell back to its own loader');
    const ownerAfter = await owner.stats();
    assert.equal(ownerAfter.stats.localLoadErrs, ownerBefore.stats.localLoadErrs + 1);
  });

  it("a peercache get of a missing key: not-found from a peercache owner, a Go owner's 500 is its answer", async () => {
    const [first, second] = ours as [PeercacheNode, PeercacheNode];
    const keys = oneKeyPerOwner('missing-from-us-');
    const byOwner = (url: string) => keys[members.findIndex((m) => m.url === url)]!;

    // Owned by the other peercache node: its 404 is the answer, not a reason to fall back.
    const ourKey = byOwner(second.url);
    const before = (await first.stats()).stats;
    const res = await first.get(ourKey);
    assert.equal(res.status, 404, res.text);
    const after = (await first.stats()).stats;
    assert.equal(after.peerErrors, before.peerErrors, 'no peer error');
    assert.equal(after.localLoadErrs, before.localLoadErrs, 'no local load');

    // Owned by Go: Go answers its loader's error with a 500. The owner was reached and
    // answered, so that is the answer (groupcache-go v3's rule too): no second load here.
    const goKey = byOwner(goPeers[0]!.url);
    const res2 = await first.get(goKey);
    assert.equal(res2.status, 500, res2.text);
    assert.match(res2.text, new RegExp(testErrorText(goKey)));
    const after2 = (await first.stats()).stats;
    assert.equal(after2.peerErrors, after.peerErrors, 'an answer is not a peer error');
    assert.equal(after2.localLoadErrs, after.localLoadErrs, 'no local load');
    assert.equal((await goPeers[0]!.loads())[goKey], 1);
  });
  it('a clear empties the peercache nodes; the Go peers ignore the notice, are named, and keep their values', async () => {
    const [first, second] = ours as [PeercacheNode, PeercacheNode];
    const keys = oneKeyPerOwner('clear-');
    for (const key of keys) assertValue(await memberAt(first.url).get(key), testValue(key)!, key);
    const loadsBefore = await allLoads();
    const res = await fetch(`${first.apiUrl}/clear?group=scores`, {
      method: 'POST',
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const answer = JSON.parse(text) as { generation: number; unsupported: string[] };
    assert.deepEqual(answer.unsupported.sort(), goPeers.map((p) => p.url).sort());
    // Every key again, through the other peercache node this time.
    for (const key of keys) assertValue(await memberAt(second.url).get(key), testValue(key)!, key);
    const loadsAfter = await allLoads();
    members.forEach((m, i) => {
      const key = keys[i]!;
      const was = loadsBefore[i]![key] ?? 0;
      const now = loadsAfter[i]![key] ?? 0;
      if (m.kind === 'peercache') assert.equal(now, was + 1, `${m.url} loaded ${key} again`);
      else assert.equal(now, was, `Go peer ${m.url} kept ${key}`);
    });
  });
});

describe('a Go groupcache peer and a peercache node over mutual TLS', {
  skip,
  timeout: 120_000,
}, () => {
  const registry = cleanupAfter();
  const certs = makeTestCerts();
  after(() => certs.cleanup());
  const ring = new Ring();
  let goPeer: GoPeer;
  let ours: PeercacheNode;

  before(async () => {
    const [goPort, ourPort, controlPort, apiPort] = await freePorts(4);
    const urls = [goPort, ourPort].map((port) => `https://127.0.0.1:${port}`);
    ring.set(urls);
    // Each side serves TLS, checks the other against the CA and requires its client
    // certificate: a request that did not present one would be refused and loaded locally.
    [goPeer, ours] = await Promise.all([
      startGoPeer({
        self: urls[0]!,
        peers: urls,
        controlPort: controlPort!,
        registry,
        tls: {
          certFile: certs.node.certFile,
          keyFile: certs.node.keyFile,
          caFile: certs.caFile,
          clientAuth: true,
        },
      }),
      startPeercacheNode({
        self: urls[1]!,
        peers: urls,
        apiPort: apiPort!,
        registry,
        extraArgs: [
          '--tls-cert',
          certs.node.certFile,
          '--tls-key',
          certs.node.keyFile,
          '--tls-ca',
          certs.caFile,
          '--tls-client-auth',
        ],
      }),
    ]);
  });

  it('each key asked on both nodes is loaded once, on its owner, and arrives byte-exact', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `tls-${i}`).concat(['tls a b', 'size:5000']);
    const owners = new Set(keys.map((k) => ring.get(k)));
    assert.equal(owners.size, 2, 'the keys should spread over both nodes');
    const goBefore = await goPeer.stats();
    const oursBefore = (await ours.stats()).stats;
    for (const key of keys) {
      const want = testValue(key)!;
      const viaGo = await goPeer.get(key);
      assert.ok(Buffer.from(viaGo).equals(want), `${label(key)} via Go`);
      const viaUs = await ours.get(key);
      assert.equal(viaUs.status, 200, `${label(key)} via peercache: ${viaUs.text}`);
      assert.ok(Buffer.from(viaUs.body).equals(want), `${label(key)} via peercache`);
    }
    await ours.syncLogs();
    const goLoads = await goPeer.loads();
    const ourLoads = ours.loads();
    for (const key of keys) {
      const owner = ring.get(key);
      const where = [goPeer.url, ours.url].filter(
        (url) => (url === goPeer.url ? goLoads : ourLoads)[key] !== undefined,
      );
      assert.deepEqual(where, [owner], `node(s) that loaded ${label(key)}`);
      assert.equal(sumLoads([goLoads, ourLoads], key), 1, `loads of ${label(key)}`);
    }
    const goAfter = await goPeer.stats();
    const oursAfter = (await ours.stats()).stats;
    assert.equal(goAfter.PeerErrors, goBefore.PeerErrors, 'Go reached us over TLS every time');
    assert.ok(goAfter.PeerLoads > goBefore.PeerLoads, 'Go asked us for our keys');
    assert.equal(oursAfter.peerErrors, oursBefore.peerErrors, 'we reached Go over TLS every time');
    assert.ok(oursAfter.peerLoads > oursBefore.peerLoads, 'we asked Go for its keys');
  });
});
