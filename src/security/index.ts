// index.ts: security pieces shared by the transports and the API server: TLS options, secrets.

export {
  type CertificateCheckOptions,
  CertificateError,
  type CertificateProblem,
  type CertificateProblemCode,
  checkCertificate,
  DEFAULT_WARN_WITHIN_DAYS,
} from './cert-check.js';
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
