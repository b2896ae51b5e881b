// Protocol tracing (KAFSCALE_TRACE_KAFKA): one debug line when a request is read and one when it
// is answered. Only header fields, timings and error codes are logged: never record bytes, and
// never a request or response body (SASL tokens and passwords live there).

import { ErrorCode } from '../protocol/error-codes.js';
import type { Logger } from '../logger.js';

const ERROR_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

/** The fields of one request's trace lines. */
export interface TraceFields {
  api: string;
  version: number;
  correlationId: number;
  clientId: string | null;
  peer: string;
}

export function traceRequest(logger: Logger, fields: TraceFields): void {
  logger.debug('kafka request', fields);
}

/** response null: nothing was sent back (Produce with acks=0). */
export function traceResponse(
  logger: Logger,
  fields: TraceFields,
  durationMs: number,
  response: unknown,
): void {
  const errors = response === null ? undefined : summarizeErrors(response);
  logger.debug('kafka response', {
    ...fields,
    durationMs: Math.round(durationMs * 1000) / 1000,
    ...(response === null ? { noResponse: true } : {}),
    ...(errors ? { errors } : {}),
  });
}

/**
 * The non-zero error codes anywhere in a response, by name with their counts, e.g.
 * "UNKNOWN_TOPIC_OR_PARTITION=2,NOT_LEADER_OR_FOLLOWER=1"; undefined when there is none.
 */
export function summarizeErrors(response: unknown): string | undefined {
  const counts = new Map<number, number>();
  const visit = (value: unknown, depth: number): void => {
    if (depth > 8 || value === null || typeof value !== 'object') return;
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    for (const [field, child] of Object.entries(value)) {
      if (/errorcode$/i.test(field) && typeof child === 'number') {
        if (child !== 0) counts.set(child, (counts.get(child) ?? 0) + 1);
      } else {
        visit(child, depth + 1);
      }
    }
  };
  visit(response, 0);
  if (counts.size === 0) return undefined;
  return [...counts]
    .map(([code, count]) => `${ERROR_NAMES.get(code) ?? `ERROR_${code}`}=${count}`)
    .join(',');
}
