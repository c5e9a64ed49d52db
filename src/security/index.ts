// index.ts: security pieces shared by the transports and the API server: TLS options, secrets.

export {
  AUTHORIZATION,
  bearer,
  checkSecret,
  type SecretCheck,
  secretCheck,
  WWW_AUTHENTICATE,
} from './secret.js';
export {
  type ResolvedTls,
  readTlsFiles,
  resolveTls,
  type TlsFiles,
  type TlsOptions,
} from './tls.js';
