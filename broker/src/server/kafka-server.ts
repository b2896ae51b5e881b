import net from 'node:net';
import tls from 'node:tls';
import { Connection } from './connection.js';
import type { HandlerRegistry } from './handler-registry.js';
import type { RequestObserver } from './connection.js';
import type { Logger } from '../logger.js';
import type { SaslAuthenticator } from '../security/sasl-session.js';
import { traceKafka } from '../config.js';

export interface KafkaServerOptions {
  host: string;
  port: number;
  registry: HandlerRegistry;
  logger: Logger;
  maxRequestBytes: number;
  maxInFlightPerConnection?: number;
  /** Sees every answered request (metrics). */
  onRequest?: RequestObserver;
  /** When set, the listener speaks TLS with these options (key, cert, ca, requestCert...). */
  tls?: tls.TlsOptions;
  /** When set, every connection must authenticate with SASL before anything but ApiVersions. */
  sasl?: SaslAuthenticator;
  /**
   * Protocol tracing: a debug log line per request and per response (api, version, correlation
   * id, client id, peer, duration, error codes; never bytes). Default: KAFSCALE_TRACE_KAFKA.
   */
  traceKafka?: boolean;
}

/** The Kafka listener: accepts connections and hands each to a Connection. */
export class KafkaServer {
  private server?: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly trace: boolean;

  constructor(private readonly options: KafkaServerOptions) {
    this.trace = options.traceKafka ?? traceKafka(process.env);
    if (this.trace && !options.logger.isDebugEnabled()) {
      options.logger.warn(
        'KAFSCALE_TRACE_KAFKA is on but the log level hides its debug lines: ' +
          'set KAFSCALE_LOG_LEVEL=debug to see them',
      );
    }
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    const onSocket = (socket: net.Socket) => this.accept(socket);
    const server = this.options.tls
      ? tls.createServer(this.options.tls, onSocket)
      : net.createServer(onSocket);
    this.server = server;
    server.on('error', (err) => this.options.logger.error('listener error', { err: err.message }));
    // A plaintext client or a bad certificate: the handshake fails and tls drops the socket.
    // A connection closed before any byte (a TCP probe) is only worth a debug line.
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      const level = err.code === 'ECONNRESET' ? 'debug' : 'info';
      this.options.logger.log(level, 'TLS handshake failed', {
        peer: `${socket.remoteAddress}:${socket.remotePort}`,
        err: err.message,
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** New TLS connections use these certificates (rotation without a restart). */
  setSecureContext(options: tls.SecureContextOptions): void {
    if (this.server instanceof tls.Server) this.server.setSecureContext(options);
  }

  private accept(socket: net.Socket): void {
    // With client auth "requested" a missing certificate is fine, but one that does not verify
    // is refused, as Kafka does.
    if (socket instanceof tls.TLSSocket && !socket.authorized) {
      const presented = Object.keys(socket.getPeerCertificate()).length > 0;
      if (presented) {
        this.options.logger.info('TLS client certificate refused', {
          peer: `${socket.remoteAddress}:${socket.remotePort}`,
          err: String(socket.authorizationError),
        });
        socket.destroy();
        return;
      }
    }
    socket.setNoDelay(true);
    const connection = new Connection(socket, {
      registry: this.options.registry,
      logger: this.options.logger,
      maxRequestBytes: this.options.maxRequestBytes,
      maxInFlight: this.options.maxInFlightPerConnection ?? 256,
      onRequest: this.options.onRequest,
      sasl: this.options.sasl?.newSession(`${socket.remoteAddress}:${socket.remotePort}`),
      trace: this.trace,
    });
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, waits up to graceMs for in-flight requests to be answered, then closes
   * every connection.
   */
  async close(graceMs = 5000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.inFlight > 0)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const c of this.connections) c.close('server shutting down');
    await closed;
  }
}
