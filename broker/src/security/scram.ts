// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), server side, and the salted credentials
// it verifies against. Like Apache Kafka, passwords are used as their UTF-8 bytes (no SASLprep),
// so credentials made here and by Kafka's tools verify the same passwords.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ScramCredentialRecord } from '../metadata/model.js';
import { SCRAM_DEFAULT_ITERATIONS, type ScramMechanism } from './mechanisms.js';
import { SaslAuthenticationError } from './sasl-error.js';

const pbkdf2Async = promisify(pbkdf2);

const DIGEST: Record<ScramMechanism, { name: string; bytes: number }> = {
  'SCRAM-SHA-256': { name: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { name: 'sha512', bytes: 64 },
};

const SALT_BYTES = 32;

function hmac(mechanism: ScramMechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(DIGEST[mechanism].name, key).update(data).digest();
}

function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(DIGEST[mechanism].name).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Hi(password, salt, i) of RFC 5802: PBKDF2 with the mechanism's HMAC, on the thread pool. */
export function saltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const digest = DIGEST[mechanism];
  return pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, digest.bytes, digest.name);
}

function clientKey(mechanism: ScramMechanism, salted: Buffer): Buffer {
  return hmac(mechanism, salted, 'Client Key');
}

/** The credential stored for a password: salt, iterations, StoredKey and ServerKey. */
export async function createCredential(
  mechanism: ScramMechanism,
  password: string,
  iterations = SCRAM_DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<ScramCredentialRecord> {
  const salted = await saltedPassword(mechanism, password, salt, iterations);
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: hash(mechanism, clientKey(mechanism, salted)).toString('base64'),
    serverKey: hmac(mechanism, salted, 'Server Key').toString('base64'),
  };
}

/**
 * Whether password derives the stored credential (used by SASL/PLAIN, so no plaintext password
 * needs to be stored). The comparison takes the same time wherever the keys differ.
 */
export async function verifyPassword(
  mechanism: ScramMechanism,
  credential: ScramCredentialRecord,
  password: string,
): Promise<boolean> {
  const salt = Buffer.from(credential.salt, 'base64');
  const salted = await saltedPassword(mechanism, password, salt, credential.iterations);
  const derived = hash(mechanism, clientKey(mechanism, salted));
  const stored = Buffer.from(credential.storedKey, 'base64');
  return stored.length === derived.length && timingSafeEqual(stored, derived);
}

/** A printable nonce without commas, as RFC 5802 requires. */
export function randomNonce(): string {
  return randomBytes(24).toString('base64');
}

/** A credential for a user that does not exist: the exchange runs to the end and then fails. */
const UNKNOWN_USER_SECRET = randomBytes(32);
function unknownUserCredential(mechanism: ScramMechanism, user: string): ScramCredentialRecord {
  // Stable per user, so probing twice does not reveal that the salt is made up.
  const salt = createHmac('sha256', UNKNOWN_USER_SECRET).update(`${mechanism}:${user}`).digest();
  const random = randomBytes(DIGEST[mechanism].bytes).toString('base64');
  return {
    salt: salt.toString('base64'),
    iterations: SCRAM_DEFAULT_ITERATIONS,
    storedKey: random,
    serverKey: random,
  };
}

function failed(reason: string): SaslAuthenticationError {
  return new SaslAuthenticationError(`Authentication failed: ${reason}`);
}

/** Splits "k=v,k=v" attributes; values may contain "=". */
function attributes(message: string): [string, string][] {
  return message.split(',').map((part) => {
    if (!/^[a-zA-Z][a-zA-Z0-9]*=/.test(part)) {
      throw failed('malformed SCRAM message');
    }
    const eq = part.indexOf('=');
    return [part.slice(0, eq), part.slice(eq + 1)];
  });
}

/** saslname of RFC 5802: "," and "=" travel as "=2C" and "=3D"; any other "=" is invalid. */
function decodeSaslName(name: string): string {
  if (/=(?!2C|3D)/.test(name) || name.length === 0) {
    throw failed('invalid user name encoding');
  }
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export type CredentialLookup = (user: string) => Promise<ScramCredentialRecord | undefined>;

/**
 * The server side of one SCRAM exchange: client-first in, server-first out; client-final in,
 * server-final out. Any failure throws SaslAuthenticationError. Only the `n,,` and `y,,` GS2
 * headers are accepted: channel binding (the -PLUS mechanisms) is not offered.
 */
export class ScramServerExchange {
  private step: 'client-first' | 'client-final' | 'done' = 'client-first';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private clientNonce = '';
  private nonce = '';
  private credential?: ScramCredentialRecord;
  private userKnown = false;
  /** The user named in client-first (authenticated only once the exchange is done). */
  user?: string;

  constructor(
    readonly mechanism: ScramMechanism,
    private readonly lookup: CredentialLookup,
    private readonly serverNonce: () => string = randomNonce,
  ) {}

  get done(): boolean {
    return this.step === 'done';
  }

  async receive(message: Buffer): Promise<Buffer> {
    const text = message.toString('utf8');
    if (this.step === 'client-first') return Buffer.from(await this.clientFirst(text), 'utf8');
    if (this.step === 'client-final') return Buffer.from(this.clientFinal(text), 'utf8');
    throw failed('SCRAM exchange already complete');
  }

  private async clientFirst(message: string): Promise<string> {
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(message);
    if (!m) throw failed('malformed SCRAM client-first message');
    if (m[1].startsWith('p=')) {
      throw failed('channel binding is not supported');
    }
    this.gs2Header = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3];
    const attrs = attributes(this.clientFirstBare);
    if (attrs[0]?.[0] === 'm') {
      throw failed('SCRAM mandatory extensions are not supported');
    }
    if (attrs[0]?.[0] !== 'n' || attrs[1]?.[0] !== 'r') {
      throw failed('malformed SCRAM client-first message');
    }
    // Kafka's only extension is tokenauth=true, for delegation tokens, which are not supported.
    if (attrs.slice(2).some(([k, v]) => k === 'tokenauth' && v === 'true')) {
      throw failed('delegation tokens are not supported');
    }
    const user = decodeSaslName(attrs[0][1]);
    const authzid = m[2] ? decodeSaslName(m[2].slice(2)) : '';
    if (authzid !== '' && authzid !== user) {
      throw failed('Client requested an authorization id that is different from username');
    }
    const clientNonce = attrs[1][1];
    if (!NONCE.test(clientNonce)) throw failed('invalid nonce');
    this.user = user;
    const credential = await this.lookup(user);
    this.userKnown = credential !== undefined;
    this.credential = credential ?? unknownUserCredential(this.mechanism, user);
    this.clientNonce = clientNonce;
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${this.credential.salt},i=${this.credential.iterations}`;
    this.step = 'client-final';
    return this.serverFirst;
  }

  private clientFinal(message: string): string {
    this.step = 'done';
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) throw failed('SCRAM proof missing');
    const withoutProof = message.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs[0]?.[0] !== 'c' || attrs[1]?.[0] !== 'r') {
      throw failed('malformed SCRAM client-final message');
    }
    if (Buffer.from(attrs[0][1], 'base64').toString('utf8') !== this.gs2Header) {
      throw failed('channel binding data does not match');
    }
    // librdkafka sends its client nonce in front of the combined nonce once more; Apache Kafka
    // accepts that (it only checks the end), so the exact repetition is accepted too.
    const nonce = attrs[1][1];
    if (nonce !== this.nonce && nonce !== this.clientNonce + this.nonce) {
      throw failed('nonce mismatch');
    }
    const credential = this.credential!;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(credential.storedKey, 'base64');
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const signature = hmac(this.mechanism, storedKey, authMessage);
    const valid =
      proof.length === signature.length &&
      storedKey.length === signature.length &&
      timingSafeEqual(hash(this.mechanism, xor(proof, signature)), storedKey) &&
      this.userKnown;
    if (!valid) {
      throw new SaslAuthenticationError(
        `Authentication failed during authentication due to invalid credentials with SASL mechanism ${this.mechanism}`,
      );
    }
    const serverKey = Buffer.from(credential.serverKey, 'base64');
    return `v=${hmac(this.mechanism, serverKey, authMessage).toString('base64')}`;
  }
}
