// The client side of SCRAM (RFC 5802), written independently of the broker's server side, for
// unit tests and for raw-wire tests of the SASL exchange.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

type Mechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const DIGEST = { 'SCRAM-SHA-256': ['sha256', 32], 'SCRAM-SHA-512': ['sha512', 64] } as const;

export class ScramClient {
  readonly clientFirst: string;
  private clientFirstBare: string;
  private serverSignature?: Buffer;

  constructor(
    private readonly mechanism: Mechanism,
    user: string,
    private readonly password: string,
    readonly clientNonce = randomBytes(18).toString('base64'),
  ) {
    const saslName = user.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${saslName},r=${clientNonce}`;
    this.clientFirst = `n,,${this.clientFirstBare}`;
  }

  /** client-final for a server-first; `nonce` overrides the r= attribute (for bad-nonce tests). */
  clientFinal(serverFirst: string, nonce?: string): string {
    const attrs = Object.fromEntries(
      serverFirst.split(',').map((p) => [p[0], p.slice(2)] as [string, string]),
    );
    if (!attrs.r.startsWith(this.clientNonce)) throw new Error('server nonce lacks client nonce');
    const [digest, bytes] = DIGEST[this.mechanism];
    const salted = pbkdf2Sync(
      this.password,
      Buffer.from(attrs.s, 'base64'),
      Number(attrs.i),
      bytes,
      digest,
    );
    const hmac = (key: Buffer, data: string) => createHmac(digest, key).update(data).digest();
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash(digest).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce ?? attrs.r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether server-final proves the server knows the credential. */
  verifyServerFinal(serverFinal: string): boolean {
    return serverFinal === `v=${this.serverSignature?.toString('base64')}`;
  }
}
