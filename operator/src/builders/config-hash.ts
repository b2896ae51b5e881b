import { createHash } from 'node:crypto';

export const CONFIG_HASH_ANNOTATION = 'kafscale.io/config-hash';

/**
 * Hash of the settings the broker reads only at start (its environment), put on the pod template
 * so that changing them rolls the pods. Certificates are not hashed: brokers reload them in place.
 */
export function configHash(data: Record<string, string>): string {
  const canonical = JSON.stringify(
    Object.keys(data)
      .sort()
      .map((k) => [k, data[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
