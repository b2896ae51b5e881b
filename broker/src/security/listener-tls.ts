// The Kafka listener's certificates, re-read periodically so a rotated certificate (cert-manager
// renewing a Secret, an operator replacing files) applies to new connections without a restart.
// Files are polled rather than watched: Kubernetes swaps Secret volumes through a symlink, which
// fs.watch does not report reliably. A half-written rotation (a new certificate with the old key)
// fails validation and is retried on the next poll while the current certificate stays in use.

import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { BrokerConfig } from '../config.js';
import type { Logger } from '../logger.js';

interface Files {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

async function read(variable: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read ${variable} ${file}: ${(err as Error).message}`);
  }
}

async function readFiles(config: BrokerConfig['tls']): Promise<Files> {
  const [cert, key, ca] = await Promise.all([
    read('KAFSCALE_TLS_CERT_FILE', config.certFile!),
    read('KAFSCALE_TLS_KEY_FILE', config.keyFile!),
    config.caFile ? read('KAFSCALE_TLS_CA_FILE', config.caFile) : undefined,
  ]);
  return { cert, key, ca };
}

function same(a: Files, b: Files): boolean {
  const eq = (x?: Buffer, y?: Buffer) => (x && y ? x.equals(y) : x === y);
  return eq(a.cert, b.cert) && eq(a.key, b.key) && eq(a.ca, b.ca);
}

/** Subject, expiry and fingerprint of the leaf certificate, for logs (never the key). */
function describe(cert: Buffer): Record<string, string> {
  try {
    const x509 = new X509Certificate(cert);
    return { subject: x509.subject, validTo: x509.validTo, fingerprint: x509.fingerprint256 };
  } catch {
    return {};
  }
}

export class ListenerCertificates {
  private timer?: NodeJS.Timeout;
  private reloading = false;

  private constructor(
    private readonly config: BrokerConfig['tls'],
    private current: Files,
    private readonly logger: Logger,
  ) {}

  /** Reads and checks the files (a key that does not match the certificate fails here). */
  static async load(config: BrokerConfig['tls'], logger: Logger): Promise<ListenerCertificates> {
    const files = await readFiles(config);
    tls.createSecureContext(files);
    logger.info('TLS enabled on the Kafka listener', {
      clientAuth: config.clientAuth,
      ...describe(files.cert),
    });
    return new ListenerCertificates(config, files, logger);
  }

  /** Options of the TLS listener. */
  serverOptions(): tls.TlsOptions {
    return {
      ...this.current,
      requestCert: this.config.clientAuth !== 'none',
      // "requested": a client without a certificate is let in; KafkaServer refuses one whose
      // certificate does not verify.
      rejectUnauthorized: this.config.clientAuth === 'required',
      minVersion: 'TLSv1.2',
    };
  }

  /** Polls the files and calls apply with changed, valid certificates. */
  watch(apply: (options: tls.SecureContextOptions) => void): void {
    this.stop();
    this.timer = setInterval(() => void this.reload(apply), this.config.reloadIntervalSec * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async reload(apply: (options: tls.SecureContextOptions) => void): Promise<void> {
    if (this.reloading) return;
    this.reloading = true;
    try {
      const files = await readFiles(this.config);
      if (same(files, this.current)) return;
      tls.createSecureContext(files);
      apply(files);
      this.current = files;
      this.logger.info('TLS certificate reloaded', describe(files.cert));
    } catch (err) {
      this.logger.warn('TLS certificate reload failed; the current certificate stays in use', {
        err: (err as Error).message,
      });
    } finally {
      this.reloading = false;
    }
  }
}
