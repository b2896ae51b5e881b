import { ErrorCode } from '../protocol/error-codes.js';
import type {
  SaslAuthenticateRequest,
  SaslAuthenticateResponse,
} from '../protocol/generated/index.js';
import type { Handler } from './handler.js';

/**
 * SaslAuthenticate v0-2 (KIP-152): one step of the exchange chosen by SaslHandshake v1. A failed
 * step answers SASL_AUTHENTICATION_FAILED and the connection closes after the response.
 */
export function saslAuthenticateHandler(): Handler<
  SaslAuthenticateRequest,
  SaslAuthenticateResponse
> {
  return {
    apiKey: 36,
    minVersion: 0,
    maxVersion: 2,
    handle: (request, ctx) =>
      ctx.sasl
        ? ctx.sasl.authenticate(request.authBytes)
        : {
            errorCode: ErrorCode.ILLEGAL_SASL_STATE,
            errorMessage: 'SASL is not enabled on this listener',
            authBytes: Buffer.alloc(0),
          },
  };
}
