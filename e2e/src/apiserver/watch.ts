// One watch stream: newline-delimited `{"type","object"}` events over a chunked response.
// Events come from the shared history (resuming at a resourceVersion) and then live; a version
// older than the retained history ends the stream with an ERROR carrying a 410 Expired Status,
// which is what makes informers relist.
import type { ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import type { StoredEvent, Storage } from './storage.js';
import type { KObject } from './types.js';

export interface WatchOptions {
  storage: Storage;
  resource: string;
  namespace?: string;
  matches: (obj: KObject) => boolean;
  resourceVersion?: string;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutMs: number;
  bookmarkIntervalMs: number;
  render: (obj: KObject) => unknown;
  bookmark: (rv: string, initialEventsEnd: boolean) => unknown;
}

export interface ActiveWatch {
  /** Ends the stream as a server-side timeout would. */
  close(): void;
  /** Ends the stream with 410 Expired, as when a watcher falls too far behind. */
  expire(): void;
}

/** Returns undefined when the stream ended at once (an expired resourceVersion). */
export function serveWatch(
  res: ServerResponse,
  opts: WatchOptions,
  onEnd: () => void,
): ActiveWatch | undefined {
  const { storage } = opts;
  let ended = false;
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe = (): void => undefined;

  const write = (type: string, object: unknown): void => {
    if (!ended) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const end = (): void => {
    if (ended) return;
    ended = true;
    for (const t of timers) clearTimeout(t);
    unsubscribe();
    res.end();
    onEnd();
  };
  const expireWith = (message: string): void => {
    write('ERROR', new ApiError(410, 'Expired', message).toStatus());
    end();
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  res.on('close', end);

  const inScope = (o: KObject): boolean =>
    opts.namespace === undefined || o.metadata.namespace === opts.namespace;
  const deliver = (e: StoredEvent): void => {
    if (e.resource !== opts.resource || !inScope(e.object)) return;
    const now = opts.matches(e.object);
    if (e.type === 'MODIFIED') {
      const before = e.previous !== undefined && opts.matches(e.previous);
      if (now && before) write('MODIFIED', opts.render(e.object));
      else if (now) write('ADDED', opts.render(e.object));
      else if (before) write('DELETED', opts.render(e.object));
      return;
    }
    if (now) write(e.type, opts.render(e.object));
  };

  const rv = opts.resourceVersion;
  if (opts.sendInitialEvents || rv === undefined || rv === '' || rv === '0') {
    for (const o of storage.list(opts.resource, opts.namespace)) {
      if (opts.matches(o)) write('ADDED', opts.render(o));
    }
    if (opts.sendInitialEvents) write('BOOKMARK', opts.bookmark(String(storage.currentRV()), true));
  } else {
    const from = Number(rv);
    const backlog = Number.isInteger(from) ? storage.eventsSince(opts.resource, from) : 'expired';
    if (backlog === 'expired') {
      expireWith(`too old resource version: ${rv} (${storage.oldestWatchableRV() + 1})`);
      return undefined;
    }
    for (const e of backlog) deliver(e);
  }
  unsubscribe = storage.subscribe(deliver);

  const bookmark = (): void => write('BOOKMARK', opts.bookmark(String(storage.currentRV()), false));
  if (opts.allowBookmarks && opts.bookmarkIntervalMs > 0) {
    const tick = (): void => {
      bookmark();
      timers.push(setTimeout(tick, opts.bookmarkIntervalMs));
    };
    timers.push(setTimeout(tick, opts.bookmarkIntervalMs));
  }
  timers.push(
    setTimeout(() => {
      // A final bookmark lets the client resume exactly where this stream stopped.
      if (opts.allowBookmarks) bookmark();
      end();
    }, opts.timeoutMs),
  );
  return {
    close: end,
    expire: () => expireWith('The resourceVersion for the provided watch is too old.'),
  };
}
