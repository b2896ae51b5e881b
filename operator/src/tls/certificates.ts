import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicit,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.js';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

const DAY_MS = 24 * 60 * 60 * 1000;

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

function name(commonName: string): Buffer {
  return sequence(
    set(sequence(objectIdentifier(OID.organization), utf8String('KafScale'))),
    set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))),
  );
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return sequence(objectIdentifier(oid), ...(critical ? [boolean(true)] : []), octetString(value));
}

function keyId(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) {
    return Buffer.from(ip.split('.').map(Number));
  }
  const [head, tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(all.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

interface CertificateRequest {
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  publicKey: KeyObject;
  issuer?: { commonName: string; keyId: Buffer };
  signingKey: KeyObject;
}

function certificate(req: CertificateRequest): string {
  const spki = req.publicKey.export({ type: 'spki', format: 'der' });
  const ownKeyId = keyId(spki);
  const algorithm = sequence(objectIdentifier(OID.ecdsaWithSha256));
  const extensions = [
    extension(
      OID.basicConstraints,
      true,
      req.isCa ? sequence(boolean(true), smallInteger(0)) : sequence(),
    ),
    // keyCertSign and cRLSign (bits 5, 6) for the CA; digitalSignature (bit 0) for a server.
    extension(
      OID.keyUsage,
      true,
      req.isCa ? bitString(Buffer.from([0x06]), 1) : bitString(Buffer.from([0x80]), 7),
    ),
    extension(OID.subjectKeyIdentifier, false, octetString(ownKeyId)),
  ];
  if (req.issuer) {
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, sequence(implicit(0, req.issuer.keyId))),
    );
  }
  if (!req.isCa) {
    extensions.push(
      extension(
        OID.extKeyUsage,
        false,
        sequence(objectIdentifier(OID.serverAuth), objectIdentifier(OID.clientAuth)),
      ),
      extension(
        OID.subjectAltName,
        false,
        sequence(
          ...(req.dnsNames ?? []).map((d) => implicit(2, Buffer.from(d, 'ascii'))),
          ...(req.ipAddresses ?? []).map((ip) => implicit(7, ipBytes(ip))),
        ),
      ),
    );
  }
  // Serial numbers are positive and at most 20 bytes (RFC 5280): 16 random bytes, top bit cleared.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    algorithm,
    name(req.issuer?.commonName ?? req.commonName),
    sequence(time(req.notBefore), time(req.notAfter)),
    name(req.commonName),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, req.signingKey);
  const der = sequence(tbs, algorithm, bitString(signature));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

function commonNameOf(cert: X509Certificate): string {
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  if (!cn) {
    throw new Error('CA certificate has no common name');
  }
  return cn.slice(3);
}

function newKey() {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** Backdated a little so nodes with a slightly slow clock accept new certificates. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export function createCertificateAuthority(
  commonName: string,
  now: Date,
  validityDays = 3650,
): IssuedCertificate {
  return selfSigned(commonName, newKey().privateKey, now, validityDays);
}

/**
 * A new certificate for an existing CA: same name, same key, a fresh validity. Everything the
 * CA signed stays valid under it, and clients that still trust the old CA certificate keep
 * trusting the certificates issued after the renewal (the signature is the same key's) until
 * the old certificate itself expires; so nothing has to be re-issued or restarted at once.
 */
export function renewCertificateAuthority(
  ca: { certPem: string; keyPem: string },
  now: Date,
  validityDays = 3650,
): IssuedCertificate {
  return selfSigned(
    commonNameOf(new X509Certificate(ca.certPem)),
    createPrivateKey(ca.keyPem),
    now,
    validityDays,
  );
}

function selfSigned(
  commonName: string,
  privateKey: KeyObject,
  now: Date,
  validityDays: number,
): IssuedCertificate {
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  const certPem = certificate({
    commonName,
    notBefore,
    notAfter,
    isCa: true,
    publicKey: createPublicKey(privateKey),
    signingKey: privateKey,
  });
  return {
    certPem,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore,
    notAfter,
  };
}

export interface ServerCertificateRequest {
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
}

/** A server certificate (ECDSA P-256) signed by the CA, valid a year by default. */
export function issueServerCertificate(
  ca: { certPem: string; keyPem: string },
  request: ServerCertificateRequest,
  now: Date,
  validityDays = 365,
): IssuedCertificate {
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  const { publicKey, privateKey } = newKey();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(
    Math.min(now.getTime() + validityDays * DAY_MS, Date.parse(caCert.validTo)),
  );
  const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
  const certPem = certificate({
    commonName: request.commonName,
    notBefore,
    notAfter,
    isCa: false,
    dnsNames: request.dnsNames,
    ipAddresses: request.ipAddresses,
    publicKey,
    issuer: { commonName: commonNameOf(caCert), keyId: keyId(caSpki) },
    signingKey: caKey,
  });
  return {
    certPem,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    notBefore,
    notAfter,
  };
}

/**
 * Whether a certificate should be replaced: past two thirds of its lifetime (cert-manager's
 * rule, a year's certificate is renewed four months early), unreadable, or not covering the
 * names it must (a Service or advertisedHost was added).
 */
export function needsRenewal(certPem: string, now: Date, dnsNames: string[] = []): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return true;
  }
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now.getTime() >= from + ((to - from) * 2) / 3) {
    return true;
  }
  const sans = (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:'));
  return !dnsNames.every((d) => sans.includes(`DNS:${d}`));
}
