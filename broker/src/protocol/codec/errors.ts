/** Bytes on the wire that do not form a valid message of the claimed type and version. */
export class ProtocolDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
  }
}

/** A message value that cannot be written at the requested version (Kafka's UnsupportedVersionException). */
export class ProtocolEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolEncodeError';
  }
}
