import { Reader } from '../protocol/codec/reader.js';
import { ConsumerProtocolSubscriptionCodec } from '../protocol/generated/index.js';

/**
 * Topics a consumer-protocol member subscribed to, from its JoinGroup metadata (a version
 * prefix, then ConsumerProtocolSubscription). Undefined when the metadata does not parse.
 */
export function subscribedTopics(metadata: Buffer): string[] | undefined {
  try {
    const r = new Reader(metadata);
    const version = Math.min(r.int16(), ConsumerProtocolSubscriptionCodec.maxVersion);
    return ConsumerProtocolSubscriptionCodec.read(r, version).topics;
  } catch {
    return undefined;
  }
}
