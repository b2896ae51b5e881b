import type net from 'node:net';
import { Reader } from '../protocol/codec/reader.js';
import { Writer } from '../protocol/codec/writer.js';
import {
  ApiVersionsResponseCodec,
  RequestHeaderCodec,
  ResponseHeaderCodec,
  type RequestHeader,
} from '../protocol/generated/index.js';
import { API_VERSIONS_KEY, unsupportedApiVersionsResponse } from '../handlers/api-versions.js';
import type { RequestContext } from '../handlers/handler.js';
import type { MessageCodec } from '../protocol/codec/message-codec.js';
import type { HandlerRegistry } from './handler-registry.js';
import type { Logger } from '../logger.js';
import { SASL_MAX_RECEIVE_BYTES, type SaslSession } from '../security/sasl-session.js';
import { traceRequest, traceResponse, type TraceFields } from './trace.js';

export interface ConnectionOptions {
  registry: HandlerRegistry;
  logger: Logger;
  maxRequestBytes: number;
  /** Requests read but not yet answered before reading pauses (backpressure). */
  maxInFlight: number;
  /** Called once per answered request (metrics); response is null when none is sent. */
  onRequest?: RequestObserver;
  /** The connection's SASL exchange when the listener requires SASL: it gates every request. */
  sasl?: SaslSession;
  /** Protocol tracing (KAFSCALE_TRACE_KAFKA): a debug line per request and per response. */
  trace?: boolean;
}

export type RequestObserver = (
  api: string,
  durationMs: number,
  request: unknown,
  response: unknown,
) => void;

/** One response slot, kept in request order: pipelined requests are answered in order. */
interface Slot {
  done: boolean;
  frame: Buffer | null;
}

const FRAME_HEADER_BYTES = 4;
const MIN_REQUEST_BYTES = 8; // api key, api version, correlation id

/**
 * One client connection: splits the byte stream into size-prefixed frames (never allocating
 * the size a frame claims before its bytes arrive), decodes, dispatches to handlers and writes
 * responses in request order. Bad input closes the connection; it never throws out of here.
 */
export class Connection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private closed = false;
  private readPaused = false;
  private writeBlocked = false;
  private processing = false;
  readonly peer: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateReading();
    });
    socket.on('error', (err) =>
      this.options.logger.debug('connection error', { peer: this.peer, err: err.message }),
    );
    socket.on('close', () => {
      this.closed = true;
      this.chunks = [];
    });
  }

  /** Requests read whose responses are not written yet. */
  get inFlight(): number {
    return this.slots.length;
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.logger.info('closing connection', { peer: this.peer, reason });
    this.chunks = [];
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.processFrames();
  }

  /**
   * Dispatches buffered frames while fewer than maxInFlight requests are unanswered: one TCP
   * chunk can hold thousands of small frames, so pausing the socket alone does not bound them.
   * flush() calls this again as responses go out.
   */
  private processFrames(): void {
    // Re-entered from flush() by a synchronous response: the running loop goes on by itself.
    if (this.processing) return;
    this.processing = true;
    try {
      while (
        !this.closed &&
        this.slots.length < this.options.maxInFlight &&
        this.buffered >= FRAME_HEADER_BYTES
      ) {
        const size = this.peekSize();
        const rawSaslToken = this.options.sasl?.expectsRawToken === true;
        const minBytes = rawSaslToken ? 1 : MIN_REQUEST_BYTES;
        const maxBytes =
          this.options.sasl?.authenticated === false
            ? Math.min(SASL_MAX_RECEIVE_BYTES, this.options.maxRequestBytes)
            : this.options.maxRequestBytes;
        if (size < minBytes || size > maxBytes) {
          this.close(`request size ${size} outside [${minBytes}, ${maxBytes}]`);
          return;
        }
        if (this.buffered < FRAME_HEADER_BYTES + size) break;
        const frame = this.take(FRAME_HEADER_BYTES + size).subarray(FRAME_HEADER_BYTES);
        if (rawSaslToken) this.onSaslToken(frame);
        else this.onFrame(frame);
      }
    } finally {
      this.processing = false;
    }
    this.updateReading();
  }

  private peekSize(): number {
    const first = this.chunks[0];
    if (first.length >= FRAME_HEADER_BYTES) return first.readInt32BE(0);
    return this.take(FRAME_HEADER_BYTES, true).readInt32BE(0);
  }

  /** The next n buffered bytes; zero-copy when they sit in one chunk. */
  private take(n: number, peek = false): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    const out = this.chunks[0].subarray(0, n);
    if (peek) return out;
    const rest = this.chunks[0].subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.buffered -= n;
    return out;
  }

  private onFrame(frame: Buffer): void {
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = this.options.registry.get(apiKey);
    const refusal = this.options.sasl?.refusal(apiKey);
    if (refusal) {
      this.close(refusal);
      return;
    }

    if (apiKey === API_VERSIONS_KEY && api && apiVersion > api.maxVersion) {
      // KIP-511: answer in v0 with our versions so the client can downgrade.
      const body = unsupportedApiVersionsResponse(this.options.registry);
      if (this.options.trace) {
        const fields = this.traceFields('ApiVersions', apiVersion, correlationId, null);
        traceRequest(this.options.logger, fields);
        traceResponse(this.options.logger, fields, 0, body);
      }
      this.respondWith(correlationId, 0, ApiVersionsResponseCodec, 0, body);
      return;
    }
    if (!api || apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      this.close(`unsupported api key ${apiKey} version ${apiVersion}`);
      return;
    }

    const flexible = api.definition.flexibleFrom >= 0 && apiVersion >= api.definition.flexibleFrom;
    let header: RequestHeader;
    let request: unknown;
    try {
      const r = new Reader(frame);
      header = RequestHeaderCodec.read(r, flexible ? 2 : 1);
      request = api.definition.request.read(r, apiVersion);
    } catch (err) {
      this.close(
        `undecodable ${api.definition.name} v${apiVersion} request: ${(err as Error).message}`,
      );
      return;
    }

    const ctx: RequestContext = {
      header,
      apiVersion,
      clientId: header.clientId ?? null,
      peer: this.peer,
      connection: this,
      principal: this.options.sasl?.principal,
      sasl: this.options.sasl,
    };
    const slot: Slot = { done: false, frame: null };
    this.slots.push(slot);
    const started = performance.now();
    const trace = this.options.trace
      ? this.traceFields(api.definition.name, apiVersion, correlationId, ctx.clientId)
      : undefined;
    if (trace) traceRequest(this.options.logger, trace);
    // Response header v1 for flexible versions, except ApiVersions which always uses v0.
    const responseHeaderVersion = flexible && apiKey !== API_VERSIONS_KEY ? 1 : 0;
    const finish = (response: unknown) => {
      if (response !== null) {
        slot.frame = encodeResponse(
          correlationId,
          responseHeaderVersion,
          api.definition.response,
          apiVersion,
          response,
        );
      }
      slot.done = true;
      const durationMs = performance.now() - started;
      this.observe(api.definition.name, durationMs, request, response);
      if (trace) traceResponse(this.options.logger, trace, durationMs, response);
      this.flush();
    };
    const fail = (err: unknown) => {
      this.options.logger.error('request failed', {
        peer: this.peer,
        api: api.definition.name,
        version: apiVersion,
        err: err instanceof Error ? err.stack : String(err),
      });
      this.close(`${api.definition.name} handler failed`);
    };
    try {
      const result = api.handler.handle(request, ctx);
      if (result instanceof Promise) result.then(finish).catch(fail);
      else finish(result);
    } catch (err) {
      fail(err);
    }
  }

  private observe(api: string, durationMs: number, request: unknown, response: unknown): void {
    try {
      this.options.onRequest?.(api, durationMs, request, response);
    } catch {
      // Metrics must never cost a client its answer.
    }
  }

  private traceFields(
    api: string,
    version: number,
    correlationId: number,
    clientId: string | null,
  ): TraceFields {
    return { api, version, correlationId, clientId, peer: this.peer };
  }

  /** A bare SASL token after SaslHandshake v0: no request header, the reply is a sized token. */
  private onSaslToken(token: Buffer): void {
    const slot: Slot = { done: false, frame: null };
    this.slots.push(slot);
    this.options.sasl!.rawToken(token).then(
      (reply) => {
        if (reply) {
          slot.frame = Buffer.alloc(FRAME_HEADER_BYTES + reply.length);
          slot.frame.writeInt32BE(reply.length, 0);
          reply.copy(slot.frame, FRAME_HEADER_BYTES);
        }
        slot.done = true;
        this.flush();
      },
      (err: unknown) => {
        this.options.logger.error('SASL exchange failed', { peer: this.peer, err: String(err) });
        this.close('SASL exchange failed');
      },
    );
  }

  private respondWith<T>(
    correlationId: number,
    headerVersion: number,
    codec: MessageCodec<T>,
    version: number,
    body: T,
  ): void {
    this.slots.push({
      done: true,
      frame: encodeResponse(correlationId, headerVersion, codec, version, body),
    });
    this.flush();
  }

  private flush(): void {
    while (this.slots.length > 0 && this.slots[0].done) {
      const slot = this.slots.shift()!;
      if (slot.frame && !this.closed && !this.socket.write(slot.frame)) this.writeBlocked = true;
    }
    const saslFailure = this.options.sasl?.closeReason;
    if (saslFailure && this.slots.length === 0) {
      this.closeAfterWrites(saslFailure);
      return;
    }
    this.processFrames();
  }

  /** Like close(), but the responses already written reach the client (a SASL error) first. */
  private closeAfterWrites(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.logger.info('closing connection', { peer: this.peer, reason });
    this.chunks = [];
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private updateReading(): void {
    if (this.closed) return;
    const pause = this.writeBlocked || this.slots.length >= this.options.maxInFlight;
    if (pause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!pause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }
}

/** Size prefix, response header and body in one buffer. */
export function encodeResponse<T>(
  correlationId: number,
  headerVersion: number,
  codec: MessageCodec<T>,
  version: number,
  body: T,
): Buffer {
  const header = { correlationId };
  const size = ResponseHeaderCodec.size(header, headerVersion) + codec.size(body, version);
  const w = Writer.alloc(FRAME_HEADER_BYTES + size);
  w.int32(size);
  ResponseHeaderCodec.write(w, header, headerVersion);
  codec.write(w, body, version);
  return w.buf;
}
