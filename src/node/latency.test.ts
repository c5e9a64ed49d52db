// latency.test.ts: LatencyHistogram renders what prom-client's Histogram renders for
// the same observations, and lists a series only once it is observed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from './latency.js';

const buckets = [0.001, 0.01, 0.1, 1];
const labelNames = ['peer', 'op'] as const;

test('same exposition as prom-client Histogram for the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new LatencyHistogram({
    name: 'x_seconds',
    help: 'X.',
    labelNames,
    buckets,
    registers: [ours],
  });
  const slow = new Histogram({
    name: 'x_seconds',
    help: 'X.',
    labelNames,
    buckets,
    registers: [theirs],
  });
  const samples: [string, string, number][] = [
    ['a', 'get', 0.0005],
    ['a', 'get', 0.001],
    ['a', 'get', 0.05],
    ['a', 'set', 2],
    ['b', 'get', 0.2],
    ['a', 'get', 0.0099],
  ];
  for (const [peer, op, seconds] of samples) {
    fast.series({ peer, op }).observe(seconds);
    slow.observe({ peer, op }, seconds);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /x_seconds_bucket\{le="0.01",peer="a",op="get"\} 3/);
});

test('a series is listed once observed; the same labels give the same series', async () => {
  const reg = new Registry();
  const h = new LatencyHistogram({
    name: 'y_seconds',
    help: 'Y.',
    labelNames,
    buckets,
    registers: [reg],
  });
  const s1 = h.series({ peer: 'p', op: 'get' });
  assert.doesNotMatch(await reg.metrics(), /y_seconds_count/);
  const s2 = h.series({ peer: 'p', op: 'get' });
  s1.observe(0.5);
  s2.observe(5);
  const text = await reg.metrics();
  assert.match(text, /y_seconds_count\{peer="p",op="get"\} 2/);
  assert.match(text, /y_seconds_sum\{peer="p",op="get"\} 5.5/);
  assert.match(text, /y_seconds_bucket\{le="\+Inf",peer="p",op="get"\} 2/);
  assert.match(text, /y_seconds_bucket\{le="1",peer="p",op="get"\} 1/);
  h.reset();
  assert.doesNotMatch(await reg.metrics(), /y_seconds_count/);
});

test('quantiles merge the matching series and interpolate within a bucket', () => {
  const h = new LatencyHistogram({
    name: 'q_seconds',
    help: 'q',
    labelNames: ['op'],
    buckets: [0.001, 0.01, 0.1],
    registers: [],
  });
  assert.deepEqual(
    h.quantiles(() => true, [0.5]),
    { count: 0, values: [null] },
  );
  const get = h.series({ op: 'get' });
  for (let i = 0; i < 98; i++) get.observe(0.0005);
  get.observe(0.05);
  h.series({ op: 'set' }).observe(5);
  h.series({ op: 'get' }).observe(7);
  const { count, values } = h.quantiles((l) => l.op === 'get', [0.5, 0.99, 1]);
  assert.equal(count, 100);
  // 50 of the 98 in the first bucket [0, 1 ms]: about half of it.
  assert.ok(Math.abs((values[0] as number) - 0.5 * (50 / 98) * 0.002) < 1e-9);
  // The 99th is the one in (10 ms, 100 ms]; the slowest is past the last bound: that bound.
  assert.ok((values[1] as number) > 0.01 && (values[1] as number) <= 0.1);
  assert.equal(values[2], 0.1);
});
