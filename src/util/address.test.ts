// address.test.ts: tests the parsing of peer base URLs and listen addresses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { hostPortOf, parseHostPort, parsePeerUrl, peerEndpoint } from './address.js';

test('parseHostPort reads host:port, IPv6 in brackets, and every interface', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 });
  assert.deepEqual(parseHostPort(':9'), { host: '0.0.0.0', port: 9 });
  assert.throws(() => parseHostPort('h:70000'), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => parseHostPort('nope'), { code: 'INVALID_ARGUMENT' });
});

test('hostPortOf takes the port of a URL, or its scheme default', () => {
  assert.deepEqual(hostPortOf('http://[::1]:8001'), { host: '::1', port: 8001 });
  assert.deepEqual(hostPortOf('https://a.example'), { host: 'a.example', port: 443 });
  assert.deepEqual(hostPortOf('http://a.example'), { host: 'a.example', port: 80 });
});

test('parsePeerUrl keeps a base URL as written and refuses anything else', () => {
  assert.equal(parsePeerUrl('http://10.0.0.1:8001'), 'http://10.0.0.1:8001');
  for (const bad of ['', 'http://h:1/', 'ftp://h:1', 'http://u:p@h:1', 'http://h:1/x', 'nope']) {
    assert.throws(() => parsePeerUrl(bad), { code: 'INVALID_ARGUMENT' }, bad);
  }
});

test('peerEndpoint reads where a client dials: TLS for https, the host unbracketed, the port or its default', () => {
  const tls = peerEndpoint('https://[::1]/prefix');
  assert.equal(tls.secure, true);
  assert.equal(tls.host, '::1');
  assert.equal(tls.port, 443);
  assert.equal(tls.parsed.pathname, '/prefix', 'a path is kept for the HTTP transport');
  const plain = peerEndpoint('http://cache-1.internal:8123');
  assert.deepEqual([plain.secure, plain.host, plain.port], [false, 'cache-1.internal', 8123]);
  assert.throws(() => peerEndpoint('not a url'), InvalidArgumentError);
  assert.throws(() => peerEndpoint('ftp://host:1'), /must be http\(s\)/);
});
