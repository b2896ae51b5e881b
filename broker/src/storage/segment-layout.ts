// Fixed sizes and magics of the `.kfs` segment object, shared by the segment codec and the index
// (whose positions point into the segment). Layout in docs/storage-format.md.

export const SEGMENT_MAGIC = Buffer.from('KAFS', 'latin1');
export const SEGMENT_FOOTER_MAGIC = Buffer.from('END!', 'latin1');
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 32;
export const SEGMENT_FOOTER_SIZE = 16;

/** Index positions are int32, which bounds a segment object's size. */
export const MAX_SEGMENT_SIZE = 0x7fffffff;
