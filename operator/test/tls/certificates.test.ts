import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:tls';
import { brokerTlsDnsNames, DEFAULT_BUILD_OPTIONS } from '../../src/builders/index.js';
import {
  createCertificateAuthority,
  generateTlsMaterial,
  issueServerCertificate,
  needsRenewal,
  renewCertificateAuthority,
} from '../../src/tls/index.js';
import { sampleCluster } from '../support/samples.js';

const now = new Date('2025-06-01T12:00:00Z');

describe('generated certificates', () => {
  const ca = createCertificateAuthority('streaming/production CA', now);
  const server = issueServerCertificate(
    ca,
    {
      commonName: 'production-bootstrap',
      dnsNames: ['*.production-brokers.streaming.svc.cluster.local', 'production-bootstrap'],
      ipAddresses: ['10.1.2.3', 'fd00::1'],
    },
    now,
  );

  test('the CA is a self-signed CA certificate valid ten years', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.subject).toBe('O=KafScale\nCN=streaming/production CA');
    expect(Date.parse(cert.validTo) - now.getTime()).toBe(3650 * 24 * 3600 * 1000);
    expect(cert.keyUsage).toBeUndefined(); // keyUsage lists extended usages only; none on a CA
  });

  test('the server certificate is signed by the CA, names the brokers and lasts a year', () => {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.subjectAltName).toBe(
      'DNS:*.production-brokers.streaming.svc.cluster.local, DNS:production-bootstrap, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:1',
    );
    // checkHost answers with the SAN that matched: the wildcard covers every broker's name.
    expect(cert.checkHost('10-1-2-3.production-brokers.streaming.svc.cluster.local')).toBe(
      '*.production-brokers.streaming.svc.cluster.local',
    );
    expect(cert.checkHost('evil.example.com')).toBeUndefined();
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(Date.parse(cert.validTo) - now.getTime()).toBe(365 * 24 * 3600 * 1000);
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });

  test('a TLS client that trusts the CA accepts a broker name; one with another CA refuses', async () => {
    const current = createCertificateAuthority('current', new Date());
    const broker = '10-1-2-3.c-brokers.ns.svc.cluster.local';
    const leaf = issueServerCertificate(
      current,
      { commonName: 'b', dnsNames: ['*.c-brokers.ns.svc.cluster.local'] },
      new Date(),
    );
    const other = createCertificateAuthority('other', new Date());
    const tlsServer = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) =>
      socket.end(),
    );
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    const { port } = tlsServer.address() as { port: number };
    try {
      const good = connect({ host: '127.0.0.1', port, ca: current.certPem, servername: broker });
      await once(good, 'secureConnect');
      expect(good.authorized).toBe(true);
      good.destroy();
      const bad = connect({ host: '127.0.0.1', port, ca: other.certPem, servername: broker });
      const [err] = (await once(bad, 'error')) as [NodeJS.ErrnoException];
      expect(err.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      tlsServer.close();
    }
  });

  test('a renewed CA keeps its name and key: old and new trust work both ways over TLS', async () => {
    const day = 24 * 3600 * 1000;
    const today = new Date();
    const old = createCertificateAuthority('ns/c CA', new Date(today.getTime() - 7 * 365 * day));
    expect(needsRenewal(old.certPem, today)).toBe(true);
    const renewed = renewCertificateAuthority(old, today);
    const oldCert = new X509Certificate(old.certPem);
    const newCert = new X509Certificate(renewed.certPem);
    expect(newCert.subject).toBe(oldCert.subject);
    expect(newCert.publicKey.equals(oldCert.publicKey)).toBe(true);
    expect(newCert.serialNumber).not.toBe(oldCert.serialNumber);
    expect(Date.parse(renewed.notAfter.toISOString()) - today.getTime()).toBe(3650 * day);
    expect(Date.parse(newCert.validTo)).toBe(Math.floor(renewed.notAfter.getTime() / 1000) * 1000);
    expect(needsRenewal(renewed.certPem, today)).toBe(false);

    const broker = '10-1-2-3.c-brokers.ns.svc.cluster.local';
    const request = { commonName: 'b', dnsNames: ['*.c-brokers.ns.svc.cluster.local'] };
    // Issued before the renewal, and after it.
    const before = issueServerCertificate(old, request, new Date(today.getTime() - day));
    const after = issueServerCertificate(renewed, request, today);
    for (const [leaf, trusted] of [
      [before, renewed],
      [after, old],
      [after, renewed],
    ]) {
      const tlsServer = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (socket) =>
        socket.end(),
      );
      tlsServer.listen(0, '127.0.0.1');
      await once(tlsServer, 'listening');
      const { port } = tlsServer.address() as { port: number };
      try {
        const client = connect({
          host: '127.0.0.1',
          port,
          ca: trusted.certPem,
          servername: broker,
        });
        await once(client, 'secureConnect');
        expect(client.authorized).toBe(true);
        client.destroy();
      } finally {
        tlsServer.close();
      }
    }
  });

  test('renewal is due after two thirds of the lifetime or when names are missing', () => {
    const day = 24 * 3600 * 1000;
    const names = ['*.production-brokers.streaming.svc.cluster.local'];
    expect(needsRenewal(server.certPem, new Date(now.getTime() + 200 * day), names)).toBe(false);
    expect(needsRenewal(server.certPem, new Date(now.getTime() + 250 * day), names)).toBe(true);
    expect(needsRenewal(server.certPem, now, ['kafka.example.com'])).toBe(true);
    expect(needsRenewal('not a certificate', now)).toBe(true);
  });
});

test('generateTlsMaterial covers the names of the cluster and keeps an existing CA', () => {
  const cluster = sampleCluster('kafscale_v1alpha1_kafscalecluster_production.yaml');
  const first = generateTlsMaterial(cluster, DEFAULT_BUILD_OPTIONS, now);
  const cert = new X509Certificate(first.certPem);
  for (const name of brokerTlsDnsNames(cluster, DEFAULT_BUILD_OPTIONS)) {
    expect(cert.subjectAltName).toContain(`DNS:${name}`);
  }
  expect(cert.checkHost('production-bootstrap.streaming.svc')).toBe(
    'production-bootstrap.streaming.svc',
  );
  const renewed = generateTlsMaterial(cluster, DEFAULT_BUILD_OPTIONS, now, {
    certPem: first.caCertPem,
    keyPem: first.caKeyPem,
  });
  expect(renewed.caCertPem).toBe(first.caCertPem);
  expect(renewed.certPem).not.toBe(first.certPem);
  expect(
    new X509Certificate(renewed.certPem).verify(new X509Certificate(first.caCertPem).publicKey),
  ).toBe(true);
});
