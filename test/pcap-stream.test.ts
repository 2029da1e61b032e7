/**
 * Streaming: a capture much larger than the reader's buffer is read with
 * memory that does not grow with the file. The file (≥ 50 MB) is written to
 * a temporary directory by the streaming writer and deleted afterwards;
 * 200 MB, so that V8's constant young-generation growth is small beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapngWriter, PcapWriter, readCapture } from '../src/packet/pcap/index.js';

const MB = 1 << 20;

function writeBigCapture(file: string, format: 'pcap' | 'pcapng', packets: number): number {
  const fd = openSync(file, 'w');
  try {
    const w = format === 'pcap' ? new PcapWriter({ linkType: 1, nanosecond: true }, { fd }) : new PcapngWriter({ linkType: 1 }, { fd });
    const frame = new Uint8Array(1514);
    let bytes = 0;
    for (let i = 0; i < packets; i++) {
      // Sizes vary so records straddle read-buffer boundaries at every offset.
      const len = 60 + ((i * 7919) % 1455);
      frame[0] = i & 0xff;
      frame[len - 1] = (i >> 8) & 0xff;
      w.write({ tsSec: 1700000000 + Math.floor(i / 1000), tsNsec: (i % 1000) * 1_000_000, data: frame.subarray(0, len) });
      bytes += len;
    }
    w.close();
    return bytes;
  } finally {
    closeSync(fd);
  }
}

for (const format of ['pcap', 'pcapng'] as const) {
  test(`${format}: a 200 MB capture streams with bounded memory and every record intact`, { timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'nfx-pcap-stream-'));
    try {
      const file = join(dir, `big.${format}`);
      const packets = 260_000;
      const payloadBytes = writeBigCapture(file, format, packets);
      const size = statSync(file).size;
      assert.ok(size >= 50 * MB, `capture is ${size} bytes`);

      // Warm up (JIT, V8's heap sizing) on the first 20,000 packets; what
      // remains to see is growth that would scale with the file.
      let warm = 0;
      for await (const r of readCapture(file)) if (++warm === 20_000 || r.data.length === 0) break;
      const before = process.memoryUsage().rss;
      let peak = before;
      let peakBuffers = 0;
      let count = 0;
      let bytes = 0;
      for await (const r of readCapture(file)) {
        const len = 60 + ((count * 7919) % 1455);
        if (r.data.length !== len || r.data[0] !== (count & 0xff) || r.data[len - 1] !== ((count >> 8) & 0xff)) {
          assert.fail(`record ${count} differs: length ${r.data.length}, want ${len}`);
        }
        bytes += r.data.length;
        count++;
        if ((count & 1023) === 0) {
          const m = process.memoryUsage();
          peak = Math.max(peak, m.rss);
          peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
        }
      }
      assert.equal(count, packets);
      assert.equal(bytes, payloadBytes);
      const growth = peak - before;
      // The reader holds a 1 MiB window; garbage windows wait for the GC.
      // "Well under the file size": a quarter of it at most. Most of the
      // growth is V8's young generation, a constant; the bytes held in
      // read buffers (arrayBuffers) stay at a few windows.
      assert.ok(growth < size / 4, `rss grew by ${(growth / MB).toFixed(1)} MB reading ${(size / MB).toFixed(1)} MB`);
      assert.ok(peakBuffers < 32 * MB, `read buffers peaked at ${(peakBuffers / MB).toFixed(1)} MB`);
      t.diagnostic(`${format}: ${(size / MB).toFixed(1)} MB read, rss growth ${(growth / MB).toFixed(1)} MB, peak array buffers ${(peakBuffers / MB).toFixed(1)} MB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
