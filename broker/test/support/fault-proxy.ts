// An HTTP reverse proxy in front of an S3 endpoint that injects faults: added latency, 5xx
// answers, refused connections. Requests are forwarded byte for byte with their Host header, so
// S3 signatures made for the proxy's address stay valid.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultStatus = 500 | 503;

export interface FaultProxyStats {
  /** Requests received, failed ones included. */
  requests: number;
  /** Requests answered with an injected error. */
  failed: number;
  inFlight: number;
  maxInFlight: number;
}

const ERROR_BODIES: Record<FaultStatus, string> = {
  500: '<Error><Code>InternalError</Code><Message>injected fault</Message></Error>',
  503: '<Error><Code>SlowDown</Code><Message>injected fault</Message></Error>',
};

export class FaultProxy {
  /** Added before each request is forwarded (or failed). */
  latencyMs = 0;
  /** Share of requests, 0..1, answered with failStatus. */
  failRate = 0;
  failStatus: FaultStatus = 503;
  readonly stats: FaultProxyStats = { requests: 0, failed: 0, inFlight: 0, maxInFlight: 0 };

  private failRemaining = 0;
  private failNextStatus: FaultStatus = 503;
  private listening = true;
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: http.Server,
    private readonly target: URL,
    readonly port: number,
  ) {}

  /** Starts a proxy to target (e.g. http://127.0.0.1:4568) on a free loopback port. */
  static async start(target: string): Promise<FaultProxy> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, new URL(target), (server.address() as AddressInfo).port);
    server.on('request', (req, res) => proxy.handle(req, res));
    return proxy;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Answers the next count requests with status instead of forwarding them. */
  failNext(count: number, status: FaultStatus = 503): void {
    this.failRemaining = count;
    this.failNextStatus = status;
  }

  /** Back to a transparent proxy; stats are kept. */
  heal(): void {
    this.latencyMs = 0;
    this.failRate = 0;
    this.failRemaining = 0;
  }

  resetStats(): void {
    Object.assign(this.stats, { requests: 0, failed: 0, maxInFlight: this.stats.inFlight });
  }

  /** Stops listening and drops open connections: clients get ECONNREFUSED / ECONNRESET. */
  async refuse(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port after refuse(). */
  async accept(): Promise<void> {
    if (this.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    await this.refuse();
    this.agent.destroy();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const stats = this.stats;
    stats.requests++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.once('close', () => stats.inFlight--);

    // Decide now, so a request's fate does not depend on how long its latency was.
    const status = this.nextFault();
    const go = () => (status === undefined ? this.forward(req, res) : this.fail(req, res, status));
    if (this.latencyMs <= 0) return go();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      go();
    }, this.latencyMs);
    this.timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    });
  }

  private nextFault(): FaultStatus | undefined {
    if (this.failRemaining > 0) {
      this.failRemaining--;
      return this.failNextStatus;
    }
    return Math.random() < this.failRate ? this.failStatus : undefined;
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, status: FaultStatus): void {
    this.stats.failed++;
    // Read the whole upload first, as S3 does, so the client sees the status and not EPIPE.
    req.resume();
    req.once('end', () => {
      const body = req.method === 'HEAD' ? '' : ERROR_BODIES[status];
      res.writeHead(status, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(ERROR_BODIES[status]),
      });
      res.end(body);
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstream = http.request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    upstream.once('error', () => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502).end();
    });
    // A client that gives up must not leave the upstream request running.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}
