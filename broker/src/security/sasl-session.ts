// SASL on the Kafka listener: which requests a connection may send before it authenticated, and
// the exchange itself (SaslHandshake v0-1, then SaslAuthenticate v0-2 or, after a v0 handshake,
// raw tokens framed only by a size). Credentials are read from the metadata store on every
// authentication, so users added or deleted with `kafscale users` apply to the next connection.

import type { Logger } from '../logger.js';
import type { ScramCredentialRecord, UserRecord } from '../metadata/model.js';
import { ErrorCode } from '../protocol/error-codes.js';
import {
  ApiVersionsRequestCodec,
  SaslAuthenticateRequestCodec,
  SaslHandshakeRequestCodec,
  type SaslAuthenticateResponse,
  type SaslHandshakeResponse,
} from '../protocol/generated/index.js';
import { isSaslMechanism, SCRAM_MECHANISMS, type SaslMechanism } from './mechanisms.js';
import { parsePlain } from './plain.js';
import { SaslAuthenticationError } from './sasl-error.js';
import { ScramServerExchange, createCredential, verifyPassword } from './scram.js';

export const ANONYMOUS = 'User:ANONYMOUS';

/**
 * Largest frame a connection may send before it authenticated (Kafka's
 * sasl.server.max.receive.size), so unauthenticated clients cannot make the broker buffer
 * KAFSCALE_MAX_REQUEST_BYTES each.
 */
export const SASL_MAX_RECEIVE_BYTES = 512 * 1024;

const EMPTY = Buffer.alloc(0);

export interface SaslAuthenticatorOptions {
  /** Enabled mechanisms, in the order the handshake lists them. */
  mechanisms: readonly SaslMechanism[];
  users: { get(name: string): Promise<UserRecord | undefined> };
  logger: Logger;
}

/** The listener's SASL configuration; makes one session per connection. */
export class SaslAuthenticator {
  // PLAIN with an unknown user still derives a key, so timing does not tell users apart.
  private readonly decoy = createCredential('SCRAM-SHA-512', 'decoy');

  constructor(readonly options: SaslAuthenticatorOptions) {}

  newSession(peer: string): SaslSession {
    return new SaslSession(this, peer);
  }

  async scramCredential(
    user: string,
    mechanism: (typeof SCRAM_MECHANISMS)[number],
  ): Promise<ScramCredentialRecord | undefined> {
    return (await this.options.users.get(user))?.credentials[mechanism];
  }

  /** PLAIN: derives the stored SCRAM credential from the password (none is stored in clear). */
  async verifyPlain(user: string, password: string): Promise<boolean> {
    const record = await this.options.users.get(user);
    for (const mechanism of SCRAM_MECHANISMS) {
      const credential = record?.credentials[mechanism];
      if (credential) return verifyPassword(mechanism, credential, password);
    }
    await verifyPassword('SCRAM-SHA-512', await this.decoy, password);
    return false;
  }
}

type State = 'handshake' | 'authenticate' | 'authenticated' | 'failed';

/** One connection's SASL state. */
export class SaslSession {
  private state: State = 'handshake';
  private mechanism: SaslMechanism | null = null;
  /** After SaslHandshake v0 the tokens follow as bare size-prefixed frames. */
  private legacy = false;
  private scram?: ScramServerExchange;
  private busy = false;
  /** The Kafka principal once authenticated. */
  principal = ANONYMOUS;
  /** Set when the connection must be closed once its queued responses are written. */
  closeReason: string | null = null;

  constructor(
    private readonly authenticator: SaslAuthenticator,
    private readonly peer: string,
  ) {}

  get authenticated(): boolean {
    return this.state === 'authenticated';
  }

  /** Why a request with this api key may not be served now (the connection closes), or null. */
  refusal(apiKey: number): string | null {
    if (this.state === 'authenticated') return null;
    if (this.busy) return `request (api key ${apiKey}) while SASL authentication is under way`;
    if (this.state === 'handshake') {
      if (apiKey === ApiVersionsRequestCodec.apiKey) return null;
      if (apiKey === SaslHandshakeRequestCodec.apiKey) return null;
    }
    if (this.state === 'authenticate' && apiKey === SaslAuthenticateRequestCodec.apiKey) {
      if (!this.legacy) return null;
    }
    return `request (api key ${apiKey}) before SASL authentication`;
  }

  /** True while the next frame is a raw SASL token rather than a request (legacy v0 flow). */
  get expectsRawToken(): boolean {
    return this.legacy && this.state === 'authenticate' && this.closeReason === null;
  }

  handshake(mechanism: string, version: number): SaslHandshakeResponse {
    const mechanisms = [...this.authenticator.options.mechanisms];
    if (this.state !== 'handshake') {
      this.fail(
        null,
        'SaslHandshake after the SASL handshake (re-authentication is not supported)',
      );
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (!isSaslMechanism(mechanism) || !mechanisms.includes(mechanism)) {
      this.fail(null, `unsupported SASL mechanism ${JSON.stringify(mechanism.slice(0, 64))}`);
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    this.mechanism = mechanism;
    this.legacy = version === 0;
    this.state = 'authenticate';
    return { errorCode: ErrorCode.NONE, mechanisms };
  }

  /** SaslAuthenticate (KIP-152): one step of the exchange; failures answer with an error code. */
  async authenticate(authBytes: Buffer): Promise<SaslAuthenticateResponse> {
    if (this.state !== 'authenticate' || this.legacy) {
      const message = `SaslAuthenticate in SASL state ${this.state}`;
      this.fail(null, message);
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: message, authBytes: EMPTY };
    }
    try {
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        authBytes: await this.step(authBytes),
      };
    } catch (err) {
      if (!(err instanceof SaslAuthenticationError)) throw err;
      return {
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage: err.message,
        authBytes: EMPTY,
      };
    }
  }

  /** A raw token after SaslHandshake v0: the reply token, or null to close without one. */
  async rawToken(token: Buffer): Promise<Buffer | null> {
    try {
      return await this.step(token);
    } catch (err) {
      if (err instanceof SaslAuthenticationError) return null;
      throw err;
    }
  }

  private async step(token: Buffer): Promise<Buffer> {
    this.busy = true;
    let user: string | null = null;
    try {
      if (this.mechanism === 'PLAIN') {
        const plain = parsePlain(token);
        user = plain.user;
        if (plain.authzid !== '' && plain.authzid !== plain.user) {
          throw new SaslAuthenticationError(
            'Authentication failed: Client requested an authorization id that is different from username',
          );
        }
        if (!(await this.authenticator.verifyPlain(plain.user, plain.password))) {
          throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
        }
        this.succeed(plain.user);
        return EMPTY;
      }
      const mechanism = this.mechanism!;
      this.scram ??= new ScramServerExchange(mechanism, (name) =>
        this.authenticator.scramCredential(name, mechanism),
      );
      const reply = await this.scram.receive(token);
      if (this.scram.done) this.succeed(this.scram.user!);
      return reply;
    } catch (err) {
      if (err instanceof SaslAuthenticationError) {
        this.fail(user ?? this.scram?.user ?? null, err.message);
      }
      throw err;
    } finally {
      this.busy = false;
    }
  }

  private succeed(user: string): void {
    this.state = 'authenticated';
    this.principal = `User:${user}`;
    this.authenticator.options.logger.info('SASL authentication succeeded', {
      peer: this.peer,
      user,
      mechanism: this.mechanism,
    });
  }

  private fail(user: string | null, reason: string): void {
    this.state = 'failed';
    this.closeReason = `SASL authentication failed: ${reason}`;
    this.authenticator.options.logger.warn('SASL authentication failed', {
      peer: this.peer,
      user,
      mechanism: this.mechanism,
      reason,
    });
  }
}
