// Object storage on S3 or an S3-compatible store (MinIO, s3rver, ...).
//
// Retries are done here rather than by the SDK: an attempt then includes reading the response
// body (the SDK retries only up to the response headers), a backing-off request gives its
// concurrency slot to others, and the observer sees every attempt.

import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  ObjectNotFoundError,
  bodyLength,
  type ObjectBody,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreObserver,
  type ObjectStoreOp,
} from './object-store.js';

export interface S3ObjectStoreConfig {
  bucket: string;
  region: string;
  /** For S3-compatible stores, e.g. http://127.0.0.1:9000. */
  endpoint?: string;
  /** bucket in the path instead of the host name; most S3-compatible stores need it. */
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default provider chain is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Server-side encryption of written objects. */
  sse?: 'AES256' | 'aws:kms';
  /** KMS key for sse 'aws:kms'; the bucket's default key when absent. */
  kmsKeyId?: string;
  /** Requests in flight at most; further requests queue. Default 64. */
  maxConcurrency?: number;
  /** Attempts per request, first one included, for retriable failures. Default 5. */
  maxAttempts?: number;
  /** Backoff before retry n is in [d/2, d] with d = min(max, base * 2^(n-1)). Default 100. */
  retryBaseDelayMs?: number;
  /** Default 5000. */
  retryMaxDelayMs?: number;
  /** Time allowed to establish a connection. Default 3000. */
  connectionTimeoutMs?: number;
  /** Time allowed until the response headers, and for any silence on the socket. Default 30000. */
  requestTimeoutMs?: number;
  onRequest?: ObjectStoreObserver;
}

/** A request that failed for good: not retriable, or out of attempts. The SDK error is the cause. */
export class ObjectStoreRequestError extends Error {
  constructor(
    readonly op: ObjectStoreOp,
    readonly target: string,
    readonly attempts: number,
    readonly retriable: boolean,
    cause: unknown,
  ) {
    super(
      `S3 ${op} ${target} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ` +
        describe(cause),
      { cause },
    );
    this.name = 'ObjectStoreRequestError';
  }
}

const DELETE_BATCH = 1000;
const RETRIABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRIABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'InternalError',
  'ServiceUnavailable',
]);
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly agent: http.Agent | https.Agent;
  private readonly slots: Semaphore;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly encryption: {
    ServerSideEncryption?: 'AES256' | 'aws:kms';
    SSEKMSKeyId?: string;
  };
  private readonly onRequest?: ObjectStoreObserver;
  private readonly closing = new AbortController();
  /** Some S3-compatible stores lack DeleteObjects; found out on first use. */
  private multiDelete = true;

  constructor(config: S3ObjectStoreConfig) {
    if (config.kmsKeyId !== undefined && config.sse !== 'aws:kms') {
      throw new Error("kmsKeyId requires sse: 'aws:kms'");
    }
    const maxConcurrency = config.maxConcurrency ?? 64;
    this.maxAttempts = config.maxAttempts ?? 5;
    if (!(maxConcurrency >= 1) || !(this.maxAttempts >= 1)) {
      throw new Error('maxConcurrency and maxAttempts must be at least 1');
    }
    this.retryBaseDelayMs = config.retryBaseDelayMs ?? 100;
    this.retryMaxDelayMs = config.retryMaxDelayMs ?? 5000;
    this.bucket = config.bucket;
    this.slots = new Semaphore(maxConcurrency);
    this.onRequest = config.onRequest;
    // Every request in flight listens on this one signal.
    setMaxListeners(0, this.closing.signal);
    this.encryption = {
      ServerSideEncryption: config.sse,
      SSEKMSKeyId: config.kmsKeyId,
    };
    const secure = config.endpoint === undefined || config.endpoint.startsWith('https:');
    const agentOptions = { keepAlive: true, maxSockets: maxConcurrency };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    const requestTimeoutMs = config.requestTimeoutMs ?? 30_000;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
      maxAttempts: 1,
      // Without these the SDK sends aws-chunked bodies with trailing checksums, which some
      // S3-compatible stores save verbatim as the object's bytes.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: config.connectionTimeoutMs ?? 3000,
        requestTimeout: requestTimeoutMs,
        throwOnRequestTimeout: true,
        socketTimeout: requestTimeoutMs,
        httpAgent: this.agent as http.Agent,
        httpsAgent: this.agent as https.Agent,
      },
    });
  }

  async put(key: string, body: ObjectBody): Promise<void> {
    checkKey(key);
    const whole = Buffer.isBuffer(body) ? body : undefined;
    const chunks = whole ? [] : writeChunks(body as readonly Buffer[]);
    await this.request('put', key, (abortSignal) =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          // Parts are streamed as they are (a fresh stream per attempt): the SDK signs a stream
          // as UNSIGNED-PAYLOAD instead of hashing it, and TLS protects the bytes in transit.
          Body: whole ?? Readable.from(chunks),
          ContentLength: bodyLength(body),
          ...this.encryption,
        }),
        { abortSignal },
      ),
    );
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    checkKey(key);
    if (range) {
      checkRange(range);
      // HTTP cannot ask for zero bytes; still answer "absent" and "out of range" like any read.
      if (range.start === range.end) return this.emptyRange(key, range);
    }
    let body: Buffer;
    try {
      body = await this.request('get', key, async (abortSignal) => {
        const response = await this.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: range && `bytes=${range.start}-${range.end - 1}`,
          }),
          { abortSignal },
        );
        if (!response.Body) return Buffer.alloc(0);
        const all = await readBody(
          response.Body as AsyncIterable<Uint8Array>,
          response.ContentLength,
        );
        return range ? fitToRange(all, response.ContentRange, range) : all;
      });
    } catch (error) {
      if (range && hasStatus(causeOf(error), 416)) throw outOfRange(key, range);
      throw error;
    }
    // S3 silently shortens a range that runs past the end of the object.
    if (range && body.length !== range.end - range.start) throw outOfRange(key, range);
    return body;
  }

  async delete(keys: string[]): Promise<void> {
    keys.forEach(checkKey);
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      batches.push(keys.slice(i, i + DELETE_BATCH));
    }
    await Promise.all(batches.map((batch) => this.deleteBatch(batch)));
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.request('list', prefix, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
          { abortSignal },
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        found.push({
          key: object.Key,
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found;
  }

  async close(): Promise<void> {
    this.closing.abort(new Error('object store closed'));
    this.slots.close();
    this.client.destroy();
    this.agent.destroy();
  }

  private async deleteBatch(keys: string[]): Promise<void> {
    if (this.multiDelete && keys.length > 1) {
      try {
        const result = await this.request('delete', `${keys.length} keys`, (abortSignal) =>
          this.client.send(
            new DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
            { abortSignal },
          ),
        );
        const failed = (result.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0];
          throw new Error(
            `S3 delete failed for ${failed.length} of ${keys.length} keys, ` +
              `first ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trimEnd(),
          );
        }
        return;
      } catch (error) {
        if (!hasStatus(causeOf(error), 501)) throw error;
        this.multiDelete = false;
      }
    }
    await Promise.all(
      keys.map((key) =>
        this.request('delete', key, (abortSignal) =>
          this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), {
            abortSignal,
          }),
        ),
      ),
    );
  }

  private async emptyRange(key: string, range: ByteRange): Promise<Buffer> {
    const head = await this.request('get', key, (abortSignal) =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal }),
    );
    if (range.start > (head.ContentLength ?? 0)) throw outOfRange(key, range);
    return Buffer.alloc(0);
  }

  /** Runs one S3 call with a concurrency slot per attempt, retries and error translation. */
  private async request<T>(
    op: ObjectStoreOp,
    target: string,
    attempt: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const signal = this.closing.signal;
    for (let n = 1; ; n++) {
      await this.slots.acquire();
      const started = performance.now();
      let failure: unknown;
      try {
        const result = await attempt(signal);
        this.notify(op, performance.now() - started);
        return result;
      } catch (error) {
        failure = error;
        this.notify(op, performance.now() - started, error);
      } finally {
        this.slots.release();
      }
      if (isNotFound(failure)) throw new ObjectNotFoundError(target);
      const retriable = !signal.aborted && isRetriable(failure);
      if (!retriable || n >= this.maxAttempts) {
        throw new ObjectStoreRequestError(op, target, n, retriable, failure);
      }
      await sleep(this.backoff(n), signal).catch(() => {
        throw new ObjectStoreRequestError(op, target, n, false, signal.reason ?? failure);
      });
    }
  }

  private backoff(retry: number): number {
    const ceiling = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** (retry - 1));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private notify(op: ObjectStoreOp, durationMs: number, error?: unknown): void {
    try {
      this.onRequest?.(op, durationMs, error);
    } catch {
      // An observer's bug must not fail a request that succeeded.
    }
  }
}

/** A counting semaphore with a FIFO queue. */
class Semaphore {
  private available: number;
  private readonly waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private closed = false;

  constructor(size: number) {
    this.available = size;
  }

  acquire(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('object store closed'));
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.available++;
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error('object store closed'));
  }
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean };
}

function isRetriable(error: unknown): boolean {
  const e = error as SdkErrorShape | undefined;
  if (e?.name === 'AbortError') return false;
  const status = e?.$metadata?.httpStatusCode;
  // No answer at all: refused, reset, timed out, name lookup failed. Worth another try, and the
  // error codes cannot be relied upon to say so: the SDK reduces errors that are not instances of
  // its own realm's Error (Node core's, seen from a vm context such as jest's) to their text.
  if (status === undefined) return true;
  return (
    RETRIABLE_STATUS.has(status) ||
    RETRIABLE_NAMES.has(e?.name ?? '') ||
    e?.$retryable !== undefined ||
    e?.$metadata?.clockSkewCorrected === true
  );
}

function isNotFound(error: unknown): boolean {
  const e = error as SdkErrorShape | undefined;
  // HEAD responses have no body, so a missing key there is only a bare 404 "NotFound".
  return e?.name === 'NoSuchKey' || (e?.name === 'NotFound' && hasStatus(error, 404));
}

function hasStatus(error: unknown, status: number): boolean {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode === status;
}

function describe(error: unknown): string {
  const e = error as SdkErrorShape | undefined;
  const status = e?.$metadata?.httpStatusCode;
  const text = `${e?.name ?? 'Error'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? String(error)}`;
  return status === undefined ? text : `${text} (HTTP ${status})`;
}

/** The SDK rejects an empty key before sending anything; that is not worth retrying. */
function checkKey(key: string): void {
  if (key === '') throw new Error('object key must not be empty');
}

function checkRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range [${start}, ${end})`);
  }
}

/** Parts this small are joined before they are written: one socket write per index is slow. */
const WRITE_CHUNK_BYTES = 64 * 1024;

/** The parts to write: large ones as they are, runs of small ones joined into one buffer. */
function writeChunks(parts: readonly Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  let run: Buffer[] = [];
  let runBytes = 0;
  const endRun = () => {
    if (run.length > 0) chunks.push(run.length === 1 ? run[0] : Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const part of parts) {
    if (part.length >= WRITE_CHUNK_BYTES) {
      endRun();
      chunks.push(part);
      continue;
    }
    run.push(part);
    runBytes += part.length;
    if (runBytes >= WRITE_CHUNK_BYTES) endRun();
  }
  endRun();
  return chunks;
}

/**
 * The body in one buffer of the length the response announced: the SDK's own collector zero-fills
 * a fresh array and copies into it, which costs a second pass over every byte of a cold read.
 */
async function readBody(
  body: AsyncIterable<Uint8Array>,
  length: number | undefined,
): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > length) {
      throw new Error(`response body is longer than its Content-Length ${length}`);
    }
    out.set(chunk, at);
    at += chunk.length;
  }
  return at === length ? out : out.subarray(0, at);
}

/**
 * The requested part of a ranged GET's body. HTTP lets a server ignore Range and send the whole
 * object, and some S3-compatible servers send more than asked (s3rver treats "bytes=0-0" as
 * "bytes=0-"); both are cut to size here rather than failing the read.
 */
function fitToRange(body: Buffer, contentRange: string | undefined, range: ByteRange): Buffer {
  const length = range.end - range.start;
  if (contentRange === undefined) return body.subarray(range.start, range.end);
  const first = /^bytes (\d+)-/.exec(contentRange)?.[1];
  if (Number(first) !== range.start) {
    throw new Error(`unexpected Content-Range ${contentRange} for bytes=${range.start}-`);
  }
  return body.length > length ? body.subarray(0, length) : body;
}

function causeOf(error: unknown): unknown {
  return error instanceof ObjectStoreRequestError ? error.cause : error;
}

function outOfRange(key: string, { start, end }: ByteRange): RangeError {
  return new RangeError(`range [${start}, ${end}) is outside ${key}`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
