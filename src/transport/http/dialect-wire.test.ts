// dialect-wire.test.ts: each dialect over real HTTP on loopback: what a status means to the
// client and to a group asking an owner, what the server answers, and `_remove-keys` both ways.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { PROBE_GROUP, probeAnswered } from '../../core/peer-health.js';
import { GroupRegistry } from '../../core/registry.js';
import { InternalError, NotFoundError, peerUnreachable, UnavailableError } from '../../errors.js';
import { createHttpTransport } from './client.js';
import { HTTP_DIALECTS, type HttpDialect } from './dialect.js';
import { createHttpPeerHandler } from './server.js';
import { FakeGroup, fakeLookup, startServer, type TestServer } from './testing.js';

/** A request a scripted server received. */
interface Seen {
  method: string;
  url: string;
  type: string | undefined;
  body: string;
}

/** scripted starts a server that records each request and answers with `answer`. */
async function scripted(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        type: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      answer(req, res);
    });
  });
  return { server, seen };
}

/** replyStatus answers every request with `status` and a plain-text body, as Go's http.Error. */
function replyStatus(status: number, text: string) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${text}\n`);
  };
}

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** What a non-200 answer to a get means in each dialect: the code, and whether it is final. */
const table: Record<HttpDialect, [status: number, code: string, final: boolean][]> = {
  golang: [
    [404, 'NOT_FOUND', true],
    [500, 'INTERNAL', true],
    [503, 'UNAVAILABLE', false],
    [502, 'UNAVAILABLE', false],
  ],
  mailgun: [
    [404, 'NOT_FOUND', true],
    [503, 'INTERNAL', true],
    [500, 'UNAVAILABLE', false],
    [502, 'UNAVAILABLE', false],
  ],
  'groupcache-go': [
    [404, 'NOT_FOUND', true],
    [503, 'INTERNAL', true],
    [500, 'UNAVAILABLE', false],
    [405, 'UNAVAILABLE', false],
  ],
};

describe('the client reads statuses as its dialect means them', () => {
  for (const [dialect, rows] of Object.entries(table) as [HttpDialect, typeof table.golang][]) {
    for (const [status, code, final] of rows) {
      test(`${dialect}: ${status} is ${code}, ${final ? 'final' : 'load elsewhere'}`, async () => {
        const { server } = await scripted(replyStatus(status, `answer ${status}`));
        servers.push(server);
        const transport = createHttpTransport({ dialect });
        try {
          const err = await transport
            .client(server.url)
            .get('g', 'k')
            .then(
              () => assert.fail('expected a failure'),
              (e: unknown) => e,
            );
          assert.equal((err as { code: string }).code, code);
          assert.equal(peerUnreachable(err), !final);
        } finally {
          await transport.close();
        }
      });
    }
  }
});

describe('a group asking a groupcache-go owner', () => {
  /** A non-owner whose every key belongs to the peer at `url`, speaking `dialect`. */
  function nonOwnerOf(url: string, dialect: HttpDialect) {
    const transport = createHttpTransport({ dialect });
    const owner = transport.client(url);
    const registry = new GroupRegistry();
    registry.setPeerPicker({ pickPeer: () => owner, otherPeers: () => [owner] });
    const loads: string[] = [];
    const group = registry.newGroup('g', {
      cacheBytes: 1 << 20,
      load: (key) => {
        loads.push(key);
        return `local:${key}`;
      },
    });
    return { group, loads, transport };
  }

  for (const [status, outcome] of [
    [404, 'NOT_FOUND'],
    [503, 'INTERNAL'],
    [500, 'local'],
  ] as const) {
    test(`${status} from the owner: ${outcome === 'local' ? 'loads the key here' : `fails ${outcome}, no local load`}`, async () => {
      const { server } = await scripted(replyStatus(status, 'owner says'));
      servers.push(server);
      const { group, loads, transport } = nonOwnerOf(server.url, 'groupcache-go');
      try {
        if (outcome === 'local') {
          assert.equal((await group.get('k')).toString(), 'local:k');
          assert.deepEqual(loads, ['k']);
        } else {
          await assert.rejects(group.get('k'), { code: outcome });
          assert.deepEqual(loads, [], 'the requester does not load locally');
        }
      } finally {
        await transport.close();
      }
    });
  }
});

describe('the server answers in its dialect', () => {
  /** serveWith starts a handler of `dialect` over one FakeGroup named `g`. */
  async function serveWith(dialect: HttpDialect) {
    const group = new FakeGroup('g');
    const server = await startServer(createHttpPeerHandler(fakeLookup(group), { dialect }));
    servers.push(server);
    return { group, url: server.url };
  }

  test('a loader failure, a not-found and a node that cannot serve, per dialect', async () => {
    const expected: Record<HttpDialect, [failed: number, notFound: number, unavailable: number]> = {
      golang: [500, 404, 503],
      mailgun: [503, 404, 500],
      'groupcache-go': [503, 404, 500],
    };
    for (const [dialect, statuses] of Object.entries(expected) as [HttpDialect, number[]][]) {
      const { group, url } = await serveWith(dialect);
      group.load = async (key) => {
        if (key === 'fail') throw new InternalError('loader failed');
        if (key === 'closing') throw new UnavailableError('node is closing');
        throw new NotFoundError(`not found: ${key}`);
      };
      const got = [];
      for (const key of ['fail', 'missing', 'closing']) {
        got.push((await fetch(`${url}/_groupcache/g/${key}`)).status);
      }
      assert.deepEqual(got, statuses, dialect);
    }
  });

  test('groupcache-go and mailgun: a + in the path is a +; golang: a space', async () => {
    for (const [dialect, key] of [
      ['groupcache-go', 'a+b c'],
      ['mailgun', 'a+b c'],
      ['golang', 'a b c'],
    ] as const) {
      const { group, url } = await serveWith(dialect);
      await fetch(`${url}/_groupcache/g/a+b%20c`);
      assert.deepEqual(group.seen, [key], dialect);
    }
  });

  test('groupcache-go serves POST _remove-keys: every key is dropped', async () => {
    const { group, url } = await serveWith('groupcache-go');
    for (const k of ['k1', 'k2', 'k3']) group.setFromPeer(k, new Uint8Array([1]), 0);
    group.seen.length = 0;
    const res = await fetch(`${url}/_groupcache/g/_remove-keys/`, {
      method: 'POST',
      body: '{"group":"g","keys":["k1","k2",""]}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(group.seen, ['k1', 'k2', '']);
    assert.deepEqual([...group.store.keys()], ['k3']);
  });

  test('groupcache-go refuses a malformed _remove-keys, another group, another POST', async () => {
    const { group, url } = await serveWith('groupcache-go');
    const post = (path: string, body: string) =>
      fetch(`${url}/_groupcache/${path}`, { method: 'POST', body }).then((r) => r.status);
    assert.equal(await post('g/_remove-keys/', 'not json'), 400);
    assert.equal(await post('g/_remove-keys/', '{"keys":[1]}'), 400);
    assert.equal(await post('g/_remove-keys/', '{"group":"h","keys":["k"]}'), 400);
    assert.equal(await post('g/k', '{}'), 404);
    assert.equal(await post('nope/_remove-keys/', '{"keys":["k"]}'), 404);
    assert.deepEqual(group.seen, [], 'nothing was removed');
    // And it keeps serving.
    assert.equal(await post('g/_remove-keys/', '{"keys":["k"]}'), 200);
  });

  test('groupcache-go refuses a _remove-keys body over its limit with 413, unread', async () => {
    const group = new FakeGroup('g');
    const server = await startServer(
      createHttpPeerHandler(fakeLookup(group), { dialect: 'groupcache-go', maxValueBytes: 16 }),
    );
    servers.push(server);
    // Over max(maxValueBytes, 1 MiB): a list of keys no client of ours sends in one request.
    const keys = Array.from({ length: 60_000 }, (_, i) => `key-${i}-xxxxxxxx`);
    const res = await fetch(`${server.url}/_groupcache/g/_remove-keys/`, {
      method: 'POST',
      body: JSON.stringify({ group: 'g', keys }),
    });
    assert.equal(res.status, 413);
    assert.deepEqual(group.seen, []);
  });

  test('golang and mailgun do not serve POST: 405 with the methods they do', async () => {
    for (const dialect of ['golang', 'mailgun'] as const) {
      const { group, url } = await serveWith(dialect);
      const res = await fetch(`${url}/_groupcache/g/_remove-keys/`, {
        method: 'POST',
        body: '{"group":"g","keys":["k"]}',
      });
      assert.equal(res.status, 405, dialect);
      assert.equal(res.headers.get('allow'), 'GET, PUT, DELETE');
      assert.deepEqual(group.seen, []);
    }
  });
});

describe('the client sends removeMany in its dialect', () => {
  test('groupcache-go: one POST {group}/_remove-keys/ with the JSON body', async () => {
    const { server, seen } = await scripted((_req, res) => res.end());
    servers.push(server);
    const transport = createHttpTransport({ dialect: 'groupcache-go' });
    try {
      await transport.client(server.url).removeMany?.('my group', ['k1', 'k 2']);
      assert.deepEqual(seen, [
        {
          method: 'POST',
          url: '/_groupcache/my%20group/_remove-keys/',
          type: 'application/json',
          body: '{"group":"my group","keys":["k1","k 2"]}',
        },
      ]);
    } finally {
      await transport.close();
    }
  });

  test('golang and mailgun: one DELETE per key', async () => {
    for (const dialect of ['golang', 'mailgun'] as const) {
      const { server, seen } = await scripted((_req, res) => res.end());
      servers.push(server);
      const transport = createHttpTransport({ dialect });
      try {
        await transport.client(server.url).removeMany?.('g', ['k1', 'k2']);
        assert.deepEqual(
          seen.map((s) => `${s.method} ${s.url}`).sort(),
          ['DELETE /_groupcache/g/k1', 'DELETE /_groupcache/g/k2'],
          dialect,
        );
      } finally {
        await transport.close();
      }
    }
  });

  test('a failed _remove-keys is an error of the dialect’s mapping', async () => {
    const { server } = await scripted(replyStatus(400, 'invalid request'));
    servers.push(server);
    const transport = createHttpTransport({ dialect: 'groupcache-go' });
    try {
      await assert.rejects(
        transport.client(server.url).removeMany?.('g', ['k']) ?? Promise.resolve(),
        {
          code: 'INVALID_ARGUMENT',
          message: /POST answered 400: invalid request/,
        },
      );
    } finally {
      await transport.close();
    }
  });
});

/** probe sends a health probe in `dialect` to `url` and says whether the peer answered it. */
async function probe(dialect: HttpDialect, url: string): Promise<boolean> {
  const transport = createHttpTransport({ dialect });
  try {
    const err = await transport
      .client(url)
      .get(PROBE_GROUP, 'probe')
      .catch((e: unknown) => e);
    return probeAnswered(err);
  } finally {
    await transport.close();
  }
}

describe('health probes in each dialect', () => {
  test('groupcache-go: the probe asks for the group alone, which v3 refuses before any lookup', async () => {
    // A v3 server drops the connection when asked for a group it lacks; `{basePath}{group}`
    // with no key is refused with 400 before that. This server answers as v3 does.
    const { server, seen } = await scripted((req, res) => {
      if (/^\/_groupcache\/[^/]*$/.test(req.url ?? '')) replyStatus(400, 'bad request')(req, res);
      else req.socket.destroy();
    });
    servers.push(server);
    for (const [dialect, answered] of [
      ['groupcache-go', true],
      ['golang', false],
    ] as const) {
      assert.equal(await probe(dialect, server.url), answered, dialect);
    }
    // groupcache-go's probe, then golang's, which such a server drops.
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/_groupcache/_peercache_health_probe', '/_groupcache/_peercache_health_probe/probe'],
    );
  });

  test('every dialect’s server answers every dialect’s probe', async () => {
    for (const served of HTTP_DIALECTS) {
      const server = await startServer(createHttpPeerHandler(fakeLookup(), { dialect: served }));
      servers.push(server);
      for (const dialect of HTTP_DIALECTS) {
        assert.ok(await probe(dialect, server.url), `${dialect} probe of a ${served} server`);
      }
    }
  });
});
