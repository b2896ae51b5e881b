import { SaslAuthenticationError } from './sasl-error.js';

/** A SASL/PLAIN message (RFC 4616): authzid NUL authcid NUL passwd. */
export function parsePlain(token: Buffer): { authzid: string; user: string; password: string } {
  const parts = token.toString('utf8').split('\0');
  if (parts.length !== 3 || parts[1] === '' || parts[2] === '') {
    throw new SaslAuthenticationError('Authentication failed: malformed PLAIN message');
  }
  return { authzid: parts[0], user: parts[1], password: parts[2] };
}
