import type { ApiVersionsRequest, ApiVersionsResponse } from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { HandlerRegistry } from '../server/handler-registry.js';
import type { Handler } from './handler.js';

export const API_VERSIONS_KEY = 18;

/** The supported-API list, straight from the registry: we advertise exactly what is implemented. */
export function supportedApis(registry: HandlerRegistry): ApiVersionsResponse['apiKeys'] {
  return registry.list().map((api) => ({
    apiKey: api.definition.apiKey,
    minVersion: api.minVersion,
    maxVersion: api.maxVersion,
  }));
}

/**
 * The answer to an ApiVersions request at a version we do not support (KIP-511): a v0 body with
 * UNSUPPORTED_VERSION and our list, so the client can retry with a version we speak.
 */
export function unsupportedApiVersionsResponse(registry: HandlerRegistry): ApiVersionsResponse {
  return { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supportedApis(registry) };
}

export function apiVersionsHandler(
  registry: HandlerRegistry,
): Handler<ApiVersionsRequest, ApiVersionsResponse> {
  return {
    apiKey: API_VERSIONS_KEY,
    minVersion: 0,
    maxVersion: 4,
    handle: () => ({
      errorCode: ErrorCode.NONE,
      apiKeys: supportedApis(registry),
      throttleTimeMs: 0,
    }),
  };
}
