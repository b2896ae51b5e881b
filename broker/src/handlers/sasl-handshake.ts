import { ErrorCode } from '../protocol/error-codes.js';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/generated/index.js';
import type { Handler } from './handler.js';

/**
 * SaslHandshake v0-1: picks the mechanism. After v1 the exchange continues in SaslAuthenticate;
 * after v0 the connection carries raw SASL tokens (handled by the connection's SASL session).
 * Like Kafka, a listener without SASL answers ILLEGAL_SASL_STATE.
 */
export function saslHandshakeHandler(): Handler<SaslHandshakeRequest, SaslHandshakeResponse> {
  return {
    apiKey: 17,
    minVersion: 0,
    maxVersion: 1,
    handle: (request, ctx) =>
      ctx.sasl
        ? ctx.sasl.handshake(request.mechanism, ctx.apiVersion)
        : { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] },
  };
}
