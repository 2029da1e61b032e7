/**
 * Reading captures: a streaming reader for files of any size and an
 * in-memory one. Both detect pcap vs pcapng from the magic number and
 * throw only PcapFormatError on malformed input.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { CaptureParser, MAX_BLOCK_LEN } from './parser.js';
import type { CaptureRecord } from './parser.js';

export interface ReadCaptureOptions {
  /**
   * Size of the read buffer in bytes (default 1 MiB; at least the largest
   * block, so one unit always fits). Memory use is a small multiple of it.
   */
  chunkSize?: number;
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;

/** Where bytes come from: fills `buf[off, off+len)` and returns how many arrived, 0 at the end. */
interface ByteInput {
  read(buf: Uint8Array, off: number, len: number): Promise<number>;
  close(): Promise<void>;
}

function fileInput(fh: FileHandle): ByteInput {
  return {
    async read(buf, off, len) {
      const { bytesRead } = await fh.read(buf, off, len, null);
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

function iterableInput(source: AsyncIterable<Uint8Array>): ByteInput {
  const it = source[Symbol.asyncIterator]();
  let pending: Uint8Array = new Uint8Array(0);
  let done = false;
  return {
    async read(buf, off, len) {
      while (pending.length === 0) {
        if (done) return 0;
        const r = await it.next();
        if (r.done) { done = true; return 0; }
        pending = r.value;
      }
      const n = Math.min(len, pending.length);
      buf.set(pending.subarray(0, n), off);
      pending = pending.subarray(n);
      return n;
    },
    async close() {
      if (!done) await it.return?.();
    },
  };
}

/**
 * Streams the packets of a pcap or pcapng capture — a file path or any
 * async iterable of byte chunks (a Node Readable works) — holding only a
 * fixed-size window of the input in memory, so captures larger than memory
 * can be read.
 *
 * Each record's `data` is a view into a read buffer, not a copy. The reader
 * never writes into a buffer once a record has been cut from it (it moves on
 * to a fresh one), so records stay valid for as long as the caller keeps
 * them; keeping many keeps their buffers alive.
 */
export async function* readCapture(
  source: string | AsyncIterable<Uint8Array>,
  options: ReadCaptureOptions = {},
): AsyncGenerator<CaptureRecord, void, undefined> {
  const size = Math.max(options.chunkSize ?? DEFAULT_CHUNK_SIZE, MAX_BLOCK_LEN);
  const input = typeof source === 'string' ? fileInput(await open(source, 'r')) : iterableInput(source);
  try {
    const parser = new CaptureParser();
    let buf = new Uint8Array(size);
    let dv = new DataView(buf.buffer);
    /** Whether a yielded record still points into `buf` (then it must not be overwritten). */
    let shared = false;
    let start = 0;
    let end = 0;
    /** Absolute input offset of buf[start]. */
    let pos = 0;
    let eof = false;
    for (;;) {
      let n: number;
      while ((n = parser.step(buf, dv, start, end, pos)) > 0) {
        start += n;
        pos += n;
        const record = parser.record;
        if (record !== null) {
          parser.record = null;
          shared = true;
          yield record;
        }
      }
      if (eof) {
        parser.finish(end - start, pos);
        return;
      }
      // Move the partial unit to the front: of a fresh buffer when records
      // point into this one, else in place.
      if (shared) {
        const next = new Uint8Array(size);
        next.set(buf.subarray(start, end));
        buf = next;
        dv = new DataView(buf.buffer);
        shared = false;
      } else if (start > 0) {
        buf.copyWithin(0, start, end);
      }
      end -= start;
      start = 0;
      // Read until the pending unit is complete (it always fits: size ≥
      // MAX_BLOCK_LEN), so a live stream's packets come out as they arrive.
      do {
        const got = await input.read(buf, end, size - end);
        if (got === 0) { eof = true; break; }
        end += got;
      } while (end < parser.needed);
    }
  } finally {
    await input.close();
  }
}

/**
 * Reads a whole capture held in memory. Records are views into `bytes`
 * (zero-copy). Throws PcapFormatError on malformed input.
 */
export function readCaptureSync(bytes: Uint8Array): CaptureRecord[] {
  const parser = new CaptureParser();
  // The parser addresses the DataView at bytes.byteOffset + off.
  const view = new DataView(bytes.buffer);
  const records: CaptureRecord[] = [];
  let off = 0;
  let n: number;
  while ((n = parser.step(bytes, view, off, bytes.length, off)) > 0) {
    off += n;
    if (parser.record !== null) {
      records.push(parser.record);
      parser.record = null;
    }
  }
  parser.finish(bytes.length - off, off);
  return records;
}
