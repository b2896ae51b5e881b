import net from 'node:net';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import {
  API_DEFINITIONS,
  RequestHeaderCodec,
  ResponseHeaderCodec,
  type ApiDefinition,
} from '../../src/protocol/generated/index.js';

export const API_VERSIONS_KEY = 18;

export function apiDefinition(apiKey: number): ApiDefinition {
  const definition = API_DEFINITIONS.find((d) => d.apiKey === apiKey);
  if (!definition) throw new Error(`no generated codec for api key ${apiKey}`);
  return definition;
}

function isFlexible(apiKey: number, version: number): boolean {
  const { flexibleFrom } = apiDefinition(apiKey);
  return flexibleFrom >= 0 && version >= flexibleFrom;
}

/** Request header v2 for flexible versions, else v1. */
export function requestHeaderVersion(apiKey: number, version: number): number {
  return isFlexible(apiKey, version) ? 2 : 1;
}

/** Response header v1 for flexible versions, except ApiVersions which always uses v0. */
export function responseHeaderVersion(apiKey: number, version: number): number {
  return apiKey !== API_VERSIONS_KEY && isFlexible(apiKey, version) ? 1 : 0;
}

export interface RequestSpec {
  apiKey: number;
  version: number;
  correlationId: number;
  clientId?: string | null;
  body: unknown;
}

/** A whole request frame: size prefix, request header and body, encoded by the generated codecs. */
export function encodeRequest(spec: RequestSpec): Buffer {
  const codec = apiDefinition(spec.apiKey).request;
  const headerVersion = requestHeaderVersion(spec.apiKey, spec.version);
  const header = {
    requestApiKey: spec.apiKey,
    requestApiVersion: spec.version,
    correlationId: spec.correlationId,
    clientId: spec.clientId === undefined ? 'wire-client' : spec.clientId,
  };
  const size = RequestHeaderCodec.size(header, headerVersion) + codec.size(spec.body, spec.version);
  const w = Writer.alloc(4 + size);
  w.int32(size);
  RequestHeaderCodec.write(w, header, headerVersion);
  codec.write(w, spec.body, spec.version);
  return w.buf;
}

export interface DecodedResponse<T> {
  correlationId: number;
  body: T;
}

/**
 * Decodes a response frame (without its size prefix) as the response to apiKey at version;
 * throws when the frame is not exactly one well-formed response.
 */
export function decodeResponse<T = unknown>(
  frame: Buffer,
  apiKey: number,
  version: number,
  headerVersion = responseHeaderVersion(apiKey, version),
): DecodedResponse<T> {
  const r = new Reader(frame);
  const header = ResponseHeaderCodec.read(r, headerVersion);
  const body = apiDefinition(apiKey).response.read(r, version) as T;
  if (r.remaining !== 0) throw new Error(`${r.remaining} trailing bytes after the response`);
  return { correlationId: header.correlationId, body };
}

interface Waiter {
  resolve(frame: Buffer): void;
  reject(err: Error): void;
}

/**
 * A tiny raw Kafka client for tests. Requests may be pipelined: responses are matched to
 * requests in order, and a response whose correlation id is not the expected one is an error.
 */
export class WireClient {
  private pending: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private readonly waiters: Waiter[] = [];
  private nextCorrelationId = 1;
  private isClosed = false;
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        for (const w of this.waiters.splice(0)) w.reject(new Error('connection closed'));
        resolve();
      });
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Sends a request and resolves with its decoded response. */
  async request<T = unknown>(
    apiKey: number,
    version: number,
    body: unknown,
    options: { correlationId?: number; clientId?: string | null } = {},
  ): Promise<DecodedResponse<T>> {
    const correlationId = options.correlationId ?? this.nextCorrelationId++;
    const frame = this.nextFrame();
    this.sendRaw(
      encodeRequest({ apiKey, version, correlationId, clientId: options.clientId, body }),
    );
    const response = decodeResponse<T>(await frame, apiKey, version);
    if (response.correlationId !== correlationId) {
      throw new Error(`expected correlation id ${correlationId}, got ${response.correlationId}`);
    }
    return response;
  }

  /** Writes bytes as they are. */
  sendRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * The next response frame, without its size prefix; rejects if the connection closes first
   * (a rejection nobody awaits, after a test has failed, is not an unhandled rejection).
   */
  nextFrame(): Promise<Buffer> {
    const frame = this.frames.shift();
    if (frame) return Promise.resolve(frame);
    const next = this.isClosed
      ? Promise.reject(new Error('connection closed'))
      : new Promise<Buffer>((resolve, reject) => this.waiters.push({ resolve, reject }));
    next.catch(() => undefined);
    return next;
  }

  /** Resolves true when the server closes the connection within timeoutMs, else false. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (this.pending.length < 4 + size) break;
      const frame = this.pending.subarray(4, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.frames.push(frame);
    }
  }
}
