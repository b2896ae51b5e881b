// The one error type segment and index decoding throws, whatever bytes it is given, so callers
// can tell "this object is damaged" from bugs.

export type SegmentFormatErrorReason =
  | 'truncated'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-footer-magic'
  | 'crc-mismatch'
  | 'bad-batch'
  | 'inconsistent'
  | 'bad-index';

export class SegmentFormatError extends Error {
  constructor(
    readonly reason: SegmentFormatErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'SegmentFormatError';
  }
}
