// otel-tracing.test.ts: one trace from a non-owner's get to the owner's loader, over each
// transport: the get, the peer request, the owner serving it and its load, with the trace
// context carried across (HTTP header, gRPC metadata, tcp TRACE frame, memory call); a
// span the loader makes is the load's child.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { freePorts } from '../../test/support/process.js';
import { type CacheNode, createNode } from '../node/node.js';
import { grpcTransport } from '../transport/grpc/index.js';
import { httpTransport } from '../transport/http/transport.js';
import { MemoryNetwork, memoryTransport } from '../transport/memory/index.js';
import { tcpTransport } from '../transport/tcp/index.js';
import type { PeerTransport } from '../transport/transport.js';
import { otelTelemetry } from './otel-tracing.js';

const contextManager = new AsyncLocalStorageContextManager();
before(() => {
  context.setGlobalContextManager(contextManager.enable());
});
after(() => {
  context.disable();
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

const transports: Array<[string, () => PeerTransport, boolean]> = [
  ['memory', () => memoryTransport(network), false],
  ['http', () => httpTransport(), true],
  ['grpc', () => grpcTransport(), true],
  ['tcp', () => tcpTransport(), true],
];
const network = new MemoryNetwork();

for (const [name, make, sockets] of transports) {
  describe(`tracing over ${name}`, () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const app = provider.getTracer('app');
    let nodes: CacheNode[] = [];

    before(async () => {
      const urls = sockets
        ? (await freePorts(2)).map((p) => `http://127.0.0.1:${p}`)
        : ['http://10.1.0.1:80', 'http://10.1.0.2:80'];
      nodes = urls.map((self, i) =>
        createNode({
          self,
          peers: urls,
          transport: make(),
          telemetry: otelTelemetry({ tracerProvider: provider, traceKeys: i === 0 }),
        }),
      );
      for (const node of nodes) {
        node.newGroup('g', {
          cacheBytes: 1 << 20,
          hotCacheChance: 0,
          load: (key) => {
            // The application's own span inside the loader.
            app.startSpan('db.query').end();
            return `v:${key}`;
          },
        });
      }
      await Promise.all(nodes.map((n) => n.listen()));
    });
    after(async () => {
      await Promise.all(nodes.map((n) => n.close()));
      await provider.shutdown();
    });

    test("a non-owner's get, the owner's answer and its load are one trace", async () => {
      const [a, b] = nodes as [CacheNode, CacheNode];
      const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
        (k) => a.ownerOf(k) === b.self,
      ) as string;
      exporter.reset();
      await app.startActiveSpan('request', async (root) => {
        assert.equal((await a.getGroup('g')?.get(key))?.toString(), `v:${key}`);
        root.end();
      });
      const spans = exporter.getFinishedSpans();
      const byName = (n: string) => spans.filter((s) => s.name === n);
      const [root] = byName('request');
      const [get] = byName('peercache.get');
      const [peer] = byName('peercache.peer.get');
      const [serve] = byName('peercache.serve.get');
      const [load] = byName('peercache.load');
      const [query] = byName('db.query');
      for (const s of [root, get, peer, serve, load, query])
        assert.ok(s, spans.map((x) => x.name).join());
      const traceId = root?.spanContext().traceId;
      for (const s of [get, peer, serve, load, query])
        assert.equal(s?.spanContext().traceId, traceId);
      assert.equal(parentOf(get as ReadableSpan), root?.spanContext().spanId);
      assert.equal(parentOf(peer as ReadableSpan), get?.spanContext().spanId);
      assert.equal(parentOf(serve as ReadableSpan), peer?.spanContext().spanId);
      assert.equal(parentOf(load as ReadableSpan), serve?.spanContext().spanId);
      assert.equal(parentOf(query as ReadableSpan), load?.spanContext().spanId);
      assert.equal(get?.attributes['peercache.hit'], false);
      assert.equal(get?.attributes['peercache.group'], 'g');
      // Node a records keys, node b does not.
      assert.equal(get?.attributes['peercache.key'], key);
      assert.equal(serve?.attributes['peercache.key'], undefined);
      assert.equal(peer?.attributes['peercache.peer'], b.self);
    });

    test('set and remove are traced, and a hit is a span of its own', async () => {
      const [a, b] = nodes as [CacheNode, CacheNode];
      const key = Array.from({ length: 100 }, (_, i) => `w${i}`).find(
        (k) => a.ownerOf(k) === b.self,
      ) as string;
      exporter.reset();
      await a.getGroup('g')?.set(key, 'written');
      await b.getGroup('g')?.get(key);
      await a.getGroup('g')?.remove(key);
      const names = exporter.getFinishedSpans().map((s) => s.name);
      assert.ok(names.includes('peercache.set'), names.join());
      assert.ok(names.includes('peercache.remove'), names.join());
      const hit = exporter
        .getFinishedSpans()
        .find((s) => s.name === 'peercache.get' && s.attributes['peercache.hit'] === true);
      assert.ok(hit, 'the owner answers the written value from its cache');
    });
  });
}

test('without telemetry a node makes no span', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  try {
    const node = createNode();
    node.newGroup('g', { cacheBytes: 1 << 20, load: (k) => k });
    await node.getGroup('g')?.get('x');
    assert.equal(exporter.getFinishedSpans().length, 0);
    await node.close();
  } finally {
    trace.disable();
    await provider.shutdown();
  }
});
