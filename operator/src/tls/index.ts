import type { KafScaleCluster } from '../api/v1alpha1.js';
import {
  brokerTlsDnsNames,
  resourceNames,
  type BuildOptions,
  type TlsMaterial,
} from '../builders/index.js';
import { createCertificateAuthority, issueServerCertificate } from './certificates.js';

export * from './certificates.js';

/**
 * TLS material for a cluster with `tls.enabled` and no `tls.secretRef`: the existing CA when
 * given (so clients keep trusting renewed certificates), a new ten-year CA otherwise, and a new
 * one-year server certificate for the brokers' names.
 */
export function generateTlsMaterial(
  cluster: KafScaleCluster,
  options: BuildOptions,
  now: Date,
  existingCa?: { certPem: string; keyPem: string },
): TlsMaterial {
  const ca =
    existingCa ??
    createCertificateAuthority(`${cluster.metadata.namespace}/${cluster.metadata.name} CA`, now);
  const server = issueServerCertificate(
    ca,
    { commonName: resourceNames(cluster).bootstrap, dnsNames: brokerTlsDnsNames(cluster, options) },
    now,
  );
  return {
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    certPem: server.certPem,
    keyPem: server.keyPem,
    notAfter: server.notAfter,
  };
}
