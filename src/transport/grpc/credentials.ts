// credentials.ts: channel credentials that can be stopped, so that a closed channel dials its
// peer no more: grpc-js may otherwise make one last connection attempt after close().
import { ChannelCredentials } from '@grpc/grpc-js';

type CreateConnector = ChannelCredentials['_createSecureConnector'];
type SecureConnector = ReturnType<CreateConnector>;

/**
 * StoppableCredentials are `inner` credentials for one channel, with a `stop()`
 * that makes every later connection attempt of that channel fail before it
 * dials.
 *
 * Why: closing a grpc-js channel releases its subchannel, but a subchannel that
 * is backing off after a failed connection (its peer died) and was asked to
 * reconnect still runs its backoff timer, and when the timer fires it dials the
 * address once more, with no channel left to want the connection. Each dial
 * first waits for the credentials' connector to be ready, so a connector that
 * refuses once stopped ends that attempt before any socket is opened.
 */
export class StoppableCredentials extends ChannelCredentials {
  readonly #inner: ChannelCredentials;
  #stopped = false;

  constructor(inner: ChannelCredentials) {
    super();
    this.#inner = inner;
  }

  /** stop makes every later connection attempt fail before dialling. Idempotent. */
  stop(): void {
    this.#stopped = true;
  }

  _isSecure(): boolean {
    return this.#inner._isSecure();
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(...args: Parameters<CreateConnector>): SecureConnector {
    const connector = this.#inner._createSecureConnector(...args);
    return {
      connect: (socket) => connector.connect(socket),
      waitForReady: () =>
        this.#stopped
          ? Promise.reject(new Error('the channel is closed'))
          : connector.waitForReady(),
      getCallCredentials: () => connector.getCallCredentials(),
      destroy: () => connector.destroy(),
    };
  }
}
