import type { RequestHeader } from '../protocol/generated/index.js';
import type { SaslSession } from '../security/sasl-session.js';

/** What a handler knows about the request besides its body. */
export interface RequestContext {
  header: RequestHeader;
  apiVersion: number;
  clientId: string | null;
  /** Remote address:port, for logs. */
  peer: string;
  /** Identity of the client connection, for per-connection ordering. */
  connection: object;
  /**
   * Kafka principal of the connection (`User:{name}` after SASL, for ACLs); absent means
   * `User:ANONYMOUS`.
   */
  principal?: string;
  /** The connection's SASL exchange, when the listener requires SASL. */
  sasl?: SaslSession;
}

/**
 * Handles one Kafka API. The server calls handlers in request order, one after another, and
 * each call runs synchronously until its first await: work done before that (such as assigning
 * offsets) happens in request order. Returning null sends no response (produce with acks=0).
 */
export interface Handler<Req, Res> {
  apiKey: number;
  /** Versions this handler implements; a subset of the generated codec's versions. */
  minVersion: number;
  maxVersion: number;
  handle(request: Req, ctx: RequestContext): Promise<Res | null> | Res | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHandler = Handler<any, any>;
