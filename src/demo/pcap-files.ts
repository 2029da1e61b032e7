/**
 * The demo's output captures: several pcap files in one directory, each
 * written to a temporary file and renamed into place at the end (write +
 * fsync + rename), so a reader never sees half a capture and a long
 * replay's frames are never all in memory.
 */
import { join } from 'node:path';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { LINKTYPE_ETHERNET } from '../packet/pcap/index.js';
import { PcapWriter, type WritableRecord } from '../packet/pcap/writer.js';

/** Pcap files written atomically: frames go to a temporary file renamed over the target at the end. */
export class PcapFiles {
  private readonly open = new Map<string, { fd: number; tmp: string; writer: PcapWriter; n: number }>();
  constructor(private readonly dir: string) {}
  /** Makes sure `name` is written, even with no frame in it. */
  ensure(name: string): void { this.file(name); }
  write(name: string, rec: WritableRecord): void {
    const f = this.file(name);
    f.writer.write(rec);
    f.n++;
  }
  private file(name: string): { fd: number; tmp: string; writer: PcapWriter; n: number } {
    let f = this.open.get(name);
    if (!f) {
      const tmp = join(this.dir, `${name}.${process.pid}.tmp`);
      const fd = openSync(tmp, 'w', 0o644);
      f = { fd, tmp, writer: new PcapWriter({ linkType: LINKTYPE_ETHERNET, nanosecond: false }, { fd }), n: 0 };
      this.open.set(name, f);
    }
    return f;
  }
  count(name: string): number { return this.open.get(name)?.n ?? 0; }
  names(): string[] { return [...this.open.keys()]; }
  /** Closes every file and renames it into place. */
  commit(): void {
    for (const [name, f] of this.open) {
      f.writer.close();
      fsyncSync(f.fd);
      closeSync(f.fd);
      renameSync(f.tmp, join(this.dir, name));
    }
  }
  abort(): void {
    for (const f of this.open.values()) {
      try { closeSync(f.fd); } catch { /* already closed */ }
      try { unlinkSync(f.tmp); } catch { /* already gone */ }
    }
  }
}
