// kube-proxy for the emulated cluster: a Service with a cluster IP listens on its own loopback
// address and forwards each connection to one ready endpoint (round robin), so only ready pods
// get traffic, as on a real cluster.
import net from 'node:net';

export interface Endpoint {
  ip: string;
  port: number;
}

export class ServiceProxy {
  private next = 0;
  private endpoints: Endpoint[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly server: net.Server) {}

  static async start(ip: string, port: number): Promise<ServiceProxy> {
    const server = net.createServer();
    const proxy = new ServiceProxy(server);
    server.on('connection', (client) => proxy.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ip, () => resolve());
    });
    return proxy;
  }

  setEndpoints(endpoints: Endpoint[]): void {
    this.endpoints = endpoints;
  }

  private forward(client: net.Socket): void {
    this.sockets.add(client);
    client.once('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (this.endpoints.length === 0) {
      // No ready endpoint: the connection is refused, as kube-proxy's REJECT rule does.
      client.resetAndDestroy();
      return;
    }
    const target = this.endpoints[this.next++ % this.endpoints.length];
    const upstream = net.connect(target.port, target.ip);
    this.sockets.add(upstream);
    upstream.once('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
