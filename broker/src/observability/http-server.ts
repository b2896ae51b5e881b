// The broker's HTTP side door for operators and Kubernetes: /metrics (Prometheus text format),
// /healthz (the process answers: liveness) and /readyz (the broker can serve: readiness).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';

export interface Readiness {
  ready: boolean;
  /** Why the broker is not ready; empty when ready. */
  reasons: string[];
}

export interface ObservabilityServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: () => Promise<{ contentType: string; body: string }>;
  readiness: () => Promise<Readiness>;
  logger: Logger;
}

export class ObservabilityServer {
  private server?: http.Server;

  constructor(private readonly options: ObservabilityServerOptions) {}

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    // A scraper that keeps its connection open must not delay shutdown by its idle timeout.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) =>
      this.options.logger.error('metrics listener error', { err: err.message }),
    );
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return send(res, 405, 'text/plain', 'method not allowed\n');
      }
      switch (path) {
        case '/metrics': {
          const { contentType, body } = await this.options.metrics();
          return send(res, 200, contentType, body);
        }
        case '/healthz':
          return send(res, 200, 'text/plain', 'ok\n');
        case '/readyz': {
          const readiness = await this.options.readiness();
          return send(
            res,
            readiness.ready ? 200 : 503,
            'application/json',
            JSON.stringify(
              readiness.ready ? { status: 'ready' } : { status: 'not ready', ...readiness },
            ) + '\n',
          );
        }
        default:
          return send(res, 404, 'text/plain', 'not found\n');
      }
    } catch (err) {
      this.options.logger.error('metrics request failed', { path, err: String(err) });
      send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
