import type { V1Secret } from '@kubernetes/client-node';
import type { KafScaleCluster } from '../api/v1alpha1.js';
import { brokerDnsSuffix } from './broker-env.js';
import { objectMeta, resourceNames } from './metadata.js';
import type { BuildOptions } from './options.js';

export const TLS_NOT_AFTER_ANNOTATION = 'kafscale.io/tls-not-after';
export const TLS_DNS_NAMES_ANNOTATION = 'kafscale.io/tls-dns-names';

/** PEM material of the generated certificates (operator/src/tls makes it). */
export interface TlsMaterial {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/**
 * Names the server certificate must cover: every broker's advertised pod DNS name (a wildcard
 * under the headless Service), the bootstrap Service in all its spellings, and advertisedHost.
 */
export function brokerTlsDnsNames(cluster: KafScaleCluster, options: BuildOptions): string[] {
  const names = resourceNames(cluster);
  const ns = cluster.metadata.namespace;
  const dns = [
    `*.${brokerDnsSuffix(cluster, options)}`,
    `*.${names.headless}.${ns}.svc`,
    names.bootstrap,
    `${names.bootstrap}.${ns}`,
    `${names.bootstrap}.${ns}.svc`,
    `${names.bootstrap}.${ns}.svc.${options.clusterDomain}`,
  ];
  const advertised = cluster.spec.brokers.advertisedHost;
  if (advertised && !/^[0-9.:]+$/.test(advertised)) {
    dns.push(advertised);
  }
  return dns;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** The Secret mounted into brokers: server certificate, key and the CA for clients. */
export function buildTlsSecret(
  cluster: KafScaleCluster,
  options: BuildOptions,
  material: TlsMaterial,
): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: objectMeta(cluster, resourceNames(cluster).tlsSecret, 'tls', {
      [TLS_NOT_AFTER_ANNOTATION]: material.notAfter.toISOString(),
      [TLS_DNS_NAMES_ANNOTATION]: brokerTlsDnsNames(cluster, options).join(','),
    }),
    data: {
      'tls.crt': b64(material.certPem),
      'tls.key': b64(material.keyPem),
      'ca.crt': b64(material.caCertPem),
    },
  };
}

/** The CA's key, kept apart from what brokers mount, to re-issue server certificates. */
export function buildTlsCaSecret(cluster: KafScaleCluster, material: TlsMaterial): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: objectMeta(cluster, resourceNames(cluster).tlsCaSecret, 'tls'),
    data: {
      'ca.crt': b64(material.caCertPem),
      'ca.key': b64(material.caKeyPem),
    },
  };
}
