// What /readyz answers: the broker is registered in the cluster, the metadata store answers,
// and object storage is not unavailable. The store is asked at most once a second however often
// probes come, and never for longer than timeoutMs, so readiness probes cannot pile up on etcd.

import type { Readiness } from './http-server.js';
import { S3HealthState, stateName } from './s3-health.js';

export interface ReadinessDeps {
  isRegistered: () => boolean;
  /** Any cheap read; rejects (or hangs) when the store is unreachable. */
  pingMetadata: () => Promise<unknown>;
  s3State: () => S3HealthState;
  timeoutMs?: number;
  cacheMs?: number;
  now?: () => number;
}

export function readinessCheck(deps: ReadinessDeps): () => Promise<Readiness> {
  const now = deps.now ?? Date.now;
  const timeoutMs = deps.timeoutMs ?? 2000;
  const cacheMs = deps.cacheMs ?? 1000;
  let last: { at: number; error: string | null } | undefined;
  let inFlight: Promise<string | null> | undefined;

  async function metadataError(): Promise<string | null> {
    if (last && now() - last.at < cacheMs) return last.error;
    inFlight ??= ping().finally(() => (inFlight = undefined));
    return inFlight;
  }

  async function ping(): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    });
    const error = await Promise.race([
      deps.pingMetadata().then(
        () => null,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      ),
      timeout,
    ]);
    clearTimeout(timer);
    last = { at: now(), error };
    return error;
  }

  return async () => {
    const reasons: string[] = [];
    if (!deps.isRegistered()) reasons.push('broker is not registered in the cluster');
    const metadata = await metadataError();
    if (metadata !== null) reasons.push(`metadata store unavailable: ${metadata}`);
    const s3 = deps.s3State();
    if (s3 === S3HealthState.Unavailable) reasons.push(`object storage ${stateName(s3)}`);
    return { ready: reasons.length === 0, reasons };
  };
}
