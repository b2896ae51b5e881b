/** A tagged field this code does not know, kept as raw bytes so it survives a decode/encode. */
export interface TaggedField {
  tag: number;
  data: Buffer;
}
