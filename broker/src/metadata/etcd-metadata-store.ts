// MetadataStore on a real etcd cluster through the `etcd3` client. The client's defaults are not
// what a commit path needs: calls have no deadline (they can hang while etcd is unreachable) and
// failed calls are retried, which for a transaction whose reply was lost can apply it twice. So
// here every unary call carries a deadline, writes are never retried (a failure means "outcome
// unknown" and the caller re-reads), reads are retried until their deadline, and a per-endpoint
// circuit breaker moves calls away from a dead endpoint and lets them through again a second
// after it may have come back.

import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  isRecoverableError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
  type IWatchResponse,
  type Lease as EtcdLease,
  type Watcher,
} from 'etcd3';
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  noop,
} from 'cockatiel';
import {
  MetadataUnavailableError,
  type Compare,
  type KeyValue,
  type Lease,
  type MetadataStore,
  type Op,
  type TxnResult,
  type Watch,
  type WatchEvent,
} from './metadata-store.js';

export interface EtcdMetadataStoreOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  username?: string;
  password?: string;
  /** Bound on establishing a watch stream and on the reconnect backoff. Default 5 s. */
  dialTimeoutMs?: number;
  /** Every call fails with MetadataUnavailableError after this long. Default 5 s. */
  requestTimeoutMs?: number;
  /**
   * TLS seam (not exercised yet): PEM material for `https://` endpoints. Client certificates
   * are optional; without this option `https://` endpoints use the system roots.
   */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

const PAGE_SIZE = 1000;
const COMPARE_RESULT = { '=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;
const COMPARE_TARGET = {
  modRevision: ['Mod', 'mod_revision'],
  createRevision: ['Create', 'create_revision'],
  version: ['Version', 'version'],
} as const;

export class EtcdMetadataStore implements MetadataStore {
  private readonly client: Etcd3;
  private readonly requestTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly leases = new Set<EtcdLeaseHandle>();
  private readonly watches = new Set<EtcdWatch>();

  constructor(options: EtcdMetadataStoreOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.dialTimeoutMs = options.dialTimeoutMs ?? 5000;
    const requestTimeoutMs = this.requestTimeoutMs;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs },
      faultHandling: {
        global: noop,
        host: () =>
          circuitBreaker(handleWhen(isRecoverableError), {
            halfOpenAfter: 1000,
            breaker: new ConsecutiveBreaker(3),
          }),
        watchBackoff: new ExponentialBackoff({
          initialDelay: 100,
          maxDelay: Math.min(2000, this.dialTimeoutMs),
        }).next(),
      },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': Math.min(1000, this.dialTimeoutMs),
        // A shared subchannel would carry its reconnect backoff over to the fresh channel the
        // client opens after a failure.
        'grpc.use_local_subchannel_pool': 1,
        // Detects a silently dead connection under an open watch or keep-alive stream; etcd
        // tolerates pings every 5 s or slower.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      },
    };
    if (options.username !== undefined) {
      clientOptions.auth = { username: options.username, password: options.password ?? '' };
    }
    if (options.tls) {
      clientOptions.credentials = {
        rootCertificate: options.tls.ca,
        privateKey: options.tls.key,
        certChain: options.tls.cert,
      };
    }
    this.client = new Etcd3(clientOptions);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return this.read('get', async (deadline) => {
      const response = await this.client.kv.range({ key: Buffer.from(key) }, { deadline });
      return response.kvs[0] && toKeyValue(response.kvs[0]);
    });
  }

  async getPrefix(prefix: string): Promise<KeyValue[]> {
    return this.read('getPrefix', async (deadline) => {
      // Pages are read at the revision of the first one, so the result is one consistent view.
      const rangeEnd = prefixEnd(prefix);
      const result: KeyValue[] = [];
      let key = Buffer.from(prefix);
      let revision: string | undefined;
      for (;;) {
        const response = await this.client.kv.range(
          { key, range_end: rangeEnd, limit: PAGE_SIZE, revision },
          { deadline },
        );
        revision ??= response.header.revision;
        result.push(...response.kvs.map(toKeyValue));
        if (!response.more || response.kvs.length === 0) return result;
        key = Buffer.concat([response.kvs[response.kvs.length - 1]!.key, Buffer.from([0])]);
      }
    });
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const response = await this.write('put', (deadline) =>
      this.client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), lease: lease ?? 0 },
        { deadline },
      ),
    );
    return Number(response.header.revision);
  }

  async delete(key: string): Promise<void> {
    await this.write('delete', (deadline) =>
      this.client.kv.deleteRange({ key: Buffer.from(key) }, { deadline }),
    );
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    const request = {
      compare: compares.map(toCompare),
      success: success.map(toRequestOp),
      failure: failure.map(toRequestOp),
    };
    const response = await this.write('txn', (deadline) =>
      this.client.kv.txn(request, { deadline }),
    );
    return { succeeded: response.succeeded, revision: Number(response.header.revision) };
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    const grantedAt = Date.now();
    const inner = this.client.lease(ttlSeconds, { autoKeepAlive: true });
    let id: string;
    let timer: NodeJS.Timeout | undefined;
    try {
      // etcd3 retries a grant without end while etcd is down: bound it like every other call.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new MetadataUnavailableError('etcd grantLease: timed out')),
          this.requestTimeoutMs,
        );
      });
      id = await Promise.race([inner.grant(), timeout]);
    } catch (error) {
      inner.release();
      if (error instanceof MetadataUnavailableError) throw error;
      throw translate(error, 'grantLease');
    } finally {
      clearTimeout(timer);
    }
    const lease = new EtcdLeaseHandle(inner, id, ttlSeconds * 1000, grantedAt, () =>
      this.leases.delete(lease),
    );
    this.leases.add(lease);
    return lease;
  }

  async watchPrefix(
    prefix: string,
    listener: (events: WatchEvent[]) => void,
    fromRevision?: number,
  ): Promise<Watch> {
    const builder = this.client
      .watch()
      .inRange({ start: Buffer.from(prefix), end: prefixEnd(prefix) });
    if (fromRevision !== undefined) builder.startRevision(String(fromRevision));
    const watch = new EtcdWatch(builder.watcher(), listener, fromRevision, () =>
      this.watches.delete(watch),
    );
    this.watches.add(watch);
    try {
      await watch.established(this.dialTimeoutMs);
    } catch (error) {
      await watch.cancel();
      throw error;
    }
    return watch;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((watch) => watch.cancel()));
    for (const lease of this.leases) lease.release();
    this.client.close();
  }

  private async read<T>(what: string, call: (deadline: Date) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.requestTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call(new Date(deadline));
      } catch (error) {
        const translated = translate(error, what);
        const pause = Math.min(50 * 2 ** attempt, 500);
        if (!(translated instanceof MetadataUnavailableError) || Date.now() + pause >= deadline) {
          throw translated;
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private async write<T>(what: string, call: (deadline: Date) => Promise<T>): Promise<T> {
    try {
      return await call(new Date(Date.now() + this.requestTimeoutMs));
    } catch (error) {
      throw translate(error, what);
    }
  }
}

/**
 * Keeps etcd3's keep-alive loop but decides loss itself: etcd3 only gives up after twice the
 * TTL, while etcd may expire the lease one TTL after the last keep-alive it received. The lease
 * is reported lost just before a TTL has passed since the send time of the newest acknowledged
 * keep-alive, which is never later than the server's expiry.
 */
class EtcdLeaseHandle implements Lease {
  private readonly listeners: (() => void)[] = [];
  private readonly inFlight: number[] = [];
  private lastConfirmedSend: number;
  private lost = false;
  private ended = false;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private readonly inner: EtcdLease,
    readonly id: string,
    private readonly ttlMs: number,
    grantedAt: number,
    private readonly onEnd: () => void,
  ) {
    this.lastConfirmedSend = grantedAt;
    inner.on('keepaliveEstablished', () => (this.inFlight.length = 0));
    inner.on('keepaliveFired', () => this.inFlight.push(Date.now()));
    inner.on('keepaliveSucceeded', () => {
      this.lastConfirmedSend = this.inFlight.shift() ?? this.lastConfirmedSend;
    });
    inner.on('lost', () => this.markLost());
    // Checked a tick early so that the report never comes after the expiry.
    const tick = Math.min(250, ttlMs / 4);
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastConfirmedSend >= this.ttlMs - tick) this.markLost();
    }, tick);
    this.watchdog.unref();
  }

  async revoke(): Promise<void> {
    this.end();
    try {
      await this.inner.revoke();
    } catch (error) {
      throw translate(error, 'revokeLease');
    }
  }

  onLost(listener: () => void): void {
    if (this.lost) queueMicrotask(listener);
    else this.listeners.push(listener);
  }

  /** Stops keeping the lease alive; etcd expires it after its TTL. */
  release(): void {
    this.end();
    this.inner.release();
  }

  private markLost(): void {
    if (this.lost || this.ended) return;
    this.lost = true;
    this.release();
    for (const listener of this.listeners.splice(0)) queueMicrotask(listener);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.watchdog);
    this.onEnd();
  }
}

/**
 * One etcd3 watcher whose resume point is tracked here: etcd3 resumes from the revision in the
 * last response header, which can skip events when etcd is replaying history in several
 * responses. This resumes from the newest delivered event + 1, so after a reconnect nothing is
 * lost and nothing is delivered twice.
 */
class EtcdWatch implements Watch {
  private lastRevision: number | undefined;
  private cancelled = false;
  private failure: Error | undefined;
  private connected = false;
  private readonly waiters: ((error?: Error) => void)[] = [];

  constructor(
    private readonly watcher: Watcher,
    private readonly listener: (events: WatchEvent[]) => void,
    fromRevision: number | undefined,
    private readonly onEnd: () => void,
  ) {
    if (fromRevision !== undefined) this.lastRevision = fromRevision - 1;
    watcher.on('connected', (response: IWatchResponse) => {
      this.lastRevision ??= Number(response.header.revision);
      this.connected = true;
      this.settle();
    });
    watcher.on('data', (response: IWatchResponse) => this.deliver(response));
    watcher.on('disconnected', () => {
      if (this.lastRevision !== undefined) {
        watcher.request.start_revision = String(this.lastRevision + 1);
      }
    });
    watcher.on('error', (error: Error) => {
      // etcd cancelled the watch, e.g. because the resume revision was compacted away.
      this.failure = new Error(`etcd cancelled the watch: ${error.message}`, { cause: error });
      if (this.connected && !this.cancelled) {
        process.emitWarning(this.failure.message, 'MetadataWatchLost');
      }
      this.settle();
      this.onEnd();
    });
  }

  established(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(new MetadataUnavailableError('etcd watch not established in time')),
        timeoutMs,
      );
      this.waiters.push((error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onEnd();
    // A cancel needs etcd's acknowledgement when connected; don't hang on an unreachable etcd.
    await Promise.race([
      this.watcher.cancel().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }

  private settle(timeoutError?: Error): void {
    const error = this.connected ? undefined : (this.failure ?? timeoutError);
    if (!this.connected && !error) return;
    for (const waiter of this.waiters.splice(0)) waiter(error);
  }

  private deliver(response: IWatchResponse): void {
    if (this.cancelled) return;
    const events: WatchEvent[] = [];
    for (const event of response.events) {
      const modRevision = Number(event.kv.mod_revision);
      if (this.lastRevision !== undefined && modRevision <= this.lastRevision) continue;
      events.push({
        type: event.type === 'Delete' ? 'delete' : 'put',
        key: event.kv.key.toString(),
        value: event.type === 'Delete' ? '' : event.kv.value.toString(),
        modRevision,
      });
    }
    if (events.length === 0) return;
    this.lastRevision = events[events.length - 1]!.modRevision;
    this.listener(events);
  }
}

function toKeyValue(kv: IKeyValue): KeyValue {
  const result: KeyValue = {
    key: kv.key.toString(),
    value: kv.value.toString(),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
    version: Number(kv.version),
  };
  if (kv.lease && kv.lease !== '0') result.lease = kv.lease;
  return result;
}

function toCompare(compare: Compare): ICompare {
  const base = { key: Buffer.from(compare.key), result: COMPARE_RESULT[compare.op] };
  if (compare.target === 'value') {
    return { ...base, target: 'Value', value: Buffer.from(compare.value) };
  }
  const [target, field] = COMPARE_TARGET[compare.target];
  return { ...base, target, [field]: compare.value };
}

function toRequestOp(op: Op): IRequestOp {
  switch (op.type) {
    case 'put':
      return {
        request_put: {
          key: Buffer.from(op.key),
          value: Buffer.from(op.value),
          lease: op.lease ?? 0,
        },
      };
    case 'delete':
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case 'deletePrefix':
      return {
        request_delete_range: { key: Buffer.from(op.prefix), range_end: prefixEnd(op.prefix) },
      };
    case 'deleteRange':
      return { request_delete_range: { key: Buffer.from(op.from), range_end: Buffer.from(op.to) } };
  }
}

/** The smallest key greater than every key starting with prefix ("\0" = no upper bound). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * Errors etcd gives for a request it rejected without applying stay ordinary errors; everything
 * else (timeouts, lost connections, leader changes, open circuits) may or may not have been
 * applied and becomes MetadataUnavailableError.
 */
function translate(error: unknown, what: string): Error {
  if (error instanceof MetadataUnavailableError) return error;
  if (error instanceof EtcdLeaseInvalidError) {
    return new Error(`etcd ${what}: lease not found`, { cause: error });
  }
  if (
    error instanceof GRPCInvalidArgumentError ||
    error instanceof EtcdPermissionDeniedError ||
    error instanceof EtcdAuthenticationFailedError
  ) {
    return new Error(`etcd ${what}: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new MetadataUnavailableError(`etcd ${what} failed: ${message}`, { cause: error });
}
