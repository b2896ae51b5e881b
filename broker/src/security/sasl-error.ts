/**
 * A failed SASL exchange: the connection gets SASL_AUTHENTICATION_FAILED with this message and
 * is closed. The message is sent to the client and logged, so it never contains a secret.
 */
export class SaslAuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslAuthenticationError';
  }
}
