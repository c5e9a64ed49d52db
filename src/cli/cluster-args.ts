// cluster-args.ts: the flags `peercache node` and `peercache gateway` share: the peer
// transport, TLS, the peer secret, the API token and etcd membership.
import { InvalidArgumentError } from '../errors.js';
import { parseEtcdEndpoint } from '../membership/etcd/options.js';
import { checkSecret } from '../security/secret.js';
import { type Env, UsageError, wholeNumber } from './flags.js';

/** TRANSPORTS are the values `--transport` accepts. */
export const TRANSPORTS = ['http', 'grpc', 'tcp'] as const;

/** TransportName is one of {@link TRANSPORTS}. */
export type TransportName = (typeof TRANSPORTS)[number];

/** PEER_SECRET_ENV is the environment variable read when `--peer-secret` is not given. */
export const PEER_SECRET_ENV = 'PEERCACHE_PEER_SECRET';
/** API_TOKEN_ENV is the environment variable read when `--api-token` is not given. */
export const API_TOKEN_ENV = 'PEERCACHE_API_TOKEN';
/** ETCD_PASSWORD_ENV is the environment variable read when `--etcd-password` is not given. */
export const ETCD_PASSWORD_ENV = 'PEERCACHE_ETCD_PASSWORD';

/** TlsFlags are the `--tls-*` files of the peer transport (read when the command starts). */
export interface TlsFlags {
  /** `--tls-cert`: this process's certificate chain. */
  certFile: string | undefined;
  /** `--tls-key`: its private key. */
  keyFile: string | undefined;
  /** `--tls-ca`: the CA peers' certificates must chain to; default Node's public roots. */
  caFile: string | undefined;
  /** `--tls-client-auth`: the peer server requires client certificates from the CA. */
  clientAuth: boolean;
}

/** EtcdTlsFlags are the `--etcd-ca/--etcd-cert/--etcd-key` files. */
export interface EtcdTlsFlags {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

/** EtcdFlags are the `--etcd` flags: membership from etcd. */
export interface EtcdFlags {
  /** `--etcd`: etcd's client URLs. */
  endpoints: string[];
  /** `--service`; default the membership's (`peercache`). */
  service: string | undefined;
  /** `--etcd-prefix`; default the membership's (`/peercache`). */
  prefix: string | undefined;
  /** `--lease-ttl` in seconds (nodes only); default the membership's (10). */
  leaseTtlSeconds: number | undefined;
  /** `--etcd-username`; default none. */
  username: string | undefined;
  /** `--etcd-password` or `PEERCACHE_ETCD_PASSWORD`; set exactly when `username` is. */
  password: string | undefined;
  /** TLS to etcd (`https://` endpoints); default the system's roots. */
  tls: EtcdTlsFlags | undefined;
  /** `--fail-fast`: exit 1 when etcd cannot be reached at start, instead of retrying. */
  failFast: boolean;
}

/** SecurityConfig is the transport and security part of a node's or gateway's config. */
export interface SecurityConfig {
  /** `--transport`; default `tcp` (`http` for clusters with golang/groupcache nodes). */
  transport: TransportName;
  /** `--tls-*`; default none (plain text). */
  tls: TlsFlags | undefined;
  /** `--api-tls`: the API serves HTTPS with `--tls-cert`/`--tls-key`. Default false. */
  apiTls: boolean;
  /** `--peer-secret` or `PEERCACHE_PEER_SECRET`; default none. */
  peerSecret: string | undefined;
  /** `--api-token` or `PEERCACHE_API_TOKEN`; default none. */
  apiToken: string | undefined;
  /** The secret-bearing flags given on the command line (visible in `ps`), to warn about. */
  secretFlags: string[];
}

/** ClusterValues are the parsed values of the shared flags, as util.parseArgs returns them. */
export interface ClusterValues {
  transport?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-ca'?: string | undefined;
  'tls-client-auth'?: boolean | undefined;
  'api-tls'?: boolean | undefined;
  'peer-secret'?: string | undefined;
  'api-token'?: string | undefined;
  etcd?: string | undefined;
  service?: string | undefined;
  'lease-ttl'?: string | undefined;
  'etcd-prefix'?: string | undefined;
  'etcd-username'?: string | undefined;
  'etcd-password'?: string | undefined;
  'etcd-ca'?: string | undefined;
  'etcd-cert'?: string | undefined;
  'etcd-key'?: string | undefined;
  'fail-fast'?: boolean | undefined;
}

/** CLUSTER_OPTIONS are the util.parseArgs options of the shared flags but `--lease-ttl`. */
export const CLUSTER_OPTIONS = {
  transport: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-client-auth': { type: 'boolean' },
  'api-tls': { type: 'boolean' },
  'peer-secret': { type: 'string' },
  'api-token': { type: 'string' },
  etcd: { type: 'string' },
  service: { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'fail-fast': { type: 'boolean' },
} as const;

/** Role says which command the flags belong to: some only make sense for one. */
export type Role = 'node' | 'gateway';

/**
 * parseSecurity reads `--transport`, `--tls-*`, `--api-tls`, `--peer-secret`
 * and `--api-token` (with their environment variables). `hasApi` says whether
 * the command serves the API. Throws UsageError on a bad or inconsistent value.
 */
export function parseSecurity(
  values: ClusterValues,
  env: Env,
  role: Role,
  hasApi: boolean,
): SecurityConfig {
  const transport = (values.transport ?? 'tcp') as TransportName;
  if (!TRANSPORTS.includes(transport)) {
    throw new UsageError(
      `--transport must be ${TRANSPORTS.join(' or ')}, got ${JSON.stringify(values.transport)}`,
    );
  }
  const tls = parseTls(values, role);
  const apiTls = values['api-tls'] ?? false;
  if (apiTls && !hasApi) throw new UsageError('--api-tls needs --api');
  if (apiTls && tls?.certFile === undefined) {
    throw new UsageError('--api-tls serves the API with --tls-cert and --tls-key: give them');
  }
  const secretFlags: string[] = [];
  const peerSecret = secret(values['peer-secret'], '--peer-secret', PEER_SECRET_ENV, env);
  if (values['peer-secret'] !== undefined) secretFlags.push('--peer-secret');
  let apiToken: string | undefined;
  if (hasApi) {
    apiToken = secret(values['api-token'], '--api-token', API_TOKEN_ENV, env);
    if (values['api-token'] !== undefined) secretFlags.push('--api-token');
  } else if (values['api-token'] !== undefined) {
    throw new UsageError('--api-token needs --api');
  }
  return { transport, tls, apiTls, peerSecret, apiToken, secretFlags };
}

function parseTls(values: ClusterValues, role: Role): TlsFlags | undefined {
  const tls: TlsFlags = {
    certFile: nonEmpty('--tls-cert', values['tls-cert']),
    keyFile: nonEmpty('--tls-key', values['tls-key']),
    caFile: nonEmpty('--tls-ca', values['tls-ca']),
    clientAuth: values['tls-client-auth'] ?? false,
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
  }
  if (tls.clientAuth && role === 'gateway') {
    throw new UsageError('--tls-client-auth is for nodes: a gateway serves no peers');
  }
  if (
    role === 'node' &&
    tls.certFile === undefined &&
    (tls.caFile !== undefined || tls.clientAuth)
  ) {
    const flag = tls.clientAuth ? '--tls-client-auth' : '--tls-ca';
    throw new UsageError(`${flag} needs --tls-cert and --tls-key (a node serves TLS with them)`);
  }
  if (tls.clientAuth && tls.caFile === undefined) {
    throw new UsageError('--tls-client-auth needs --tls-ca (the CA client certificates come from)');
  }
  const given = tls.certFile !== undefined || tls.caFile !== undefined;
  return given ? tls : undefined;
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value === '') throw new UsageError(`${flag} needs a file`);
  return value;
}

/** secret reads a secret from its flag (which wins) or its environment variable. */
function secret(
  flagValue: string | undefined,
  flag: string,
  envName: string,
  env: Env,
): string | undefined {
  const fromEnv = env[envName];
  const [value, what] =
    flagValue !== undefined ? [flagValue, flag] : [fromEnv, `the environment variable ${envName}`];
  if (value === undefined) return undefined;
  if (value === '') throw new UsageError(`${what} is empty`);
  try {
    return checkSecret(what, value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * parseEtcd reads `--etcd` and the flags that go with it; undefined without
 * `--etcd` (then none of the others may be given). `--lease-ttl` is for nodes
 * only. Throws UsageError on a malformed endpoint or a bad value.
 */
export function parseEtcd(
  values: ClusterValues,
  env: Env,
  secretFlags: string[],
): EtcdFlags | undefined {
  if (values.etcd === undefined) {
    const stray = (
      [
        'service',
        'lease-ttl',
        'etcd-prefix',
        'etcd-username',
        'etcd-password',
        'etcd-ca',
        'etcd-cert',
        'etcd-key',
        'fail-fast',
      ] as const
    ).find((k) => values[k] !== undefined);
    if (stray !== undefined) throw new UsageError(`--${stray} needs --etcd`);
    return undefined;
  }
  const endpoints = values.etcd
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (endpoints.length === 0) {
    throw new UsageError('--etcd needs at least one URL, e.g. http://127.0.0.1:2379');
  }
  const parsed = endpoints.map((e) => {
    try {
      return parseEtcdEndpoint(e);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(`--etcd: ${err.message}`);
      throw err;
    }
  });
  const service = values.service;
  if (service !== undefined && (service === '' || service.includes('/'))) {
    throw new UsageError(
      `--service must be a non-empty name without "/", got ${JSON.stringify(service)}`,
    );
  }
  const ttl = values['lease-ttl'];
  const leaseTtlSeconds = ttl === undefined ? undefined : wholeNumber('--lease-ttl', ttl, 1);

  const username = values['etcd-username'];
  if (username === '') throw new UsageError('--etcd-username is empty');
  let password: string | undefined;
  if (values['etcd-password'] !== undefined) {
    if (username === undefined) throw new UsageError('--etcd-password needs --etcd-username');
    password = values['etcd-password'];
    if (password === '') throw new UsageError('--etcd-password is empty');
    secretFlags.push('--etcd-password');
  } else if (username !== undefined) {
    password = env[ETCD_PASSWORD_ENV];
    if (password === undefined) {
      throw new UsageError(`--etcd-username needs --etcd-password or ${ETCD_PASSWORD_ENV}`);
    }
    if (password === '') throw new UsageError(`${ETCD_PASSWORD_ENV} is empty`);
  }

  let tls: EtcdTlsFlags | undefined;
  const [caFile, certFile, keyFile] = (['etcd-ca', 'etcd-cert', 'etcd-key'] as const).map((k) =>
    nonEmpty(`--${k}`, values[k]),
  );
  if (caFile !== undefined || certFile !== undefined || keyFile !== undefined) {
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new UsageError('--etcd-cert and --etcd-key go together: give both or neither');
    }
    const plain = parsed.find((e) => !e.secure);
    if (plain !== undefined) {
      throw new UsageError(
        `--etcd-ca, --etcd-cert and --etcd-key need https:// endpoints, got ${plain.url}`,
      );
    }
    tls = { caFile, certFile, keyFile };
  }
  return {
    endpoints,
    service,
    prefix: values['etcd-prefix'],
    leaseTtlSeconds,
    username,
    password,
    tls,
    failFast: values['fail-fast'] ?? false,
  };
}
