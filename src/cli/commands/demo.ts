/**
 * `nfx demo [-r FILE] [--iif DEV]` — the bundled scenario, end to end.
 *
 * A small-office gateway (data/demo/gateway.nfx: LAN, DMZ and WAN ports, a
 * stateful inet filter, masquerade, a port forward, a blocklist set and a
 * rate limit) is built on a fresh in-memory host — the user's saved hosts are
 * never read or written — and the bundled capture data/demo/office.pcap is
 * replayed through it on the virtual clock at the capture's timestamps, so
 * the output is the same on every run. The demo prints each packet's journey
 * on one line, explains two drops in full (what `nfx why` prints), shows the
 * ruleset's counters, and writes every frame the gateway transmitted to
 * `$NFX_HOME/demo/office-out.pcap`.
 *
 * With `-r FILE` another capture is replayed through the same gateway; a
 * long one prints progress on stderr and a summary instead of every line.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { readCapture, LINKTYPE_ETHERNET, LINKTYPE_RAW, linkL3 } from '../../packet/pcap/index.js';
import { PcapWriter, type WritableRecord } from '../../packet/pcap/writer.js';
import { PcapFormatError } from '../../packet/pcap/errors.js';
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import { newHost } from '../../host/model.js';
import { linkByName } from '../../host/links.js';
import { builtinHandlers, runScript } from '../../host/script.js';
import type { Host } from '../../host/types.js';
import { openPath, storePath } from '../../host/path/state.js';
import { HostPath, type HostPathOptions } from '../../host/path/walk.js';
import type { PacketOutcome } from '../../host/path/types.js';
import type { VirtualClock } from '../../netfilter/clock.js';
import { runNft } from '../../nft/command.js';
import { CommandError, EXIT_OK, UsageError, type CliContext } from '../context.js';
import { nftScriptHandler } from './nft.js';
import { advanceClock, type InputPacket } from './inject.js';
import { explain, ruleText } from './why.js';

const DATA = new URL('../../../../data/demo/', import.meta.url);
/** The gateway: an `nfx run` script (`ip`, `sysctl` and an `nft -f -` here-document). */
export const DEMO_GATEWAY = fileURLToPath(new URL('gateway.nfx', DATA));
/** The capture replayed through it (made by bench/make-office-capture.ts). */
export const DEMO_CAPTURE = fileURLToPath(new URL('office.pcap', DATA));
/** The emitted traffic, under `$NFX_HOME`. */
export const DEMO_OUTPUT = join('demo', 'office-out.pcap');

export const DEMO_USAGE = 'Usage: nfx demo [-r FILE [--iif DEV]]';

/** Captures longer than this print progress and a summary instead of a line per packet. */
const LONG_REPLAY = 200;
/** How many journey lines a long replay still prints before it goes quiet. */
const LONG_REPLAY_SHOWN = 20;
/** A progress line every this many packets of a long replay. */
const PROGRESS_EVERY = 10_000;

/** A fresh host with the gateway script applied; throws CommandError naming the failing line. */
export async function buildGateway(script = DEMO_GATEWAY): Promise<Host> {
  const host = newHost('demo');
  const handlers = builtinHandlers();
  handlers.set('nft', nftScriptHandler);
  let err = '';
  const res = await runScript(host, readFileSync(script, 'utf8'), {
    file: script.replace(/.*\/data\//, 'data/'),
    handlers,
    io: { out: () => {}, err: (t) => { err += t; } },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  if (res.status !== 0) throw new CommandError(`nfx demo: the gateway script failed\n${err.trimEnd()}`);
  return host;
}

/** One replayed packet: where it came in and what became of it. */
export interface DemoStep {
  /** 1-based, as tshark numbers frames. */
  index: number;
  dev: string;
  input: InputPacket;
  outcome: PacketOutcome;
  /** Virtual time of the packet, ms since the epoch. */
  ms: number;
}

/**
 * The port a frame arrived on: the gateway port whose MAC it is addressed to
 * (a capture taken in front of the gateway sees exactly that), else `fallback`.
 */
export function arrivalPort(host: Host, frame: Uint8Array, fallback?: string): string | undefined {
  if (frame.length >= 6) {
    for (const l of host.links) {
      if (l.kind === 'loopback' || l.mac.length !== 6) continue;
      let same = true;
      for (let i = 0; i < 6; i++) if (l.mac[i] !== frame[i]) { same = false; break; }
      if (same) return l.name;
    }
  }
  return fallback;
}

interface Endpoints { src: string; dst: string }

/** Addresses and ports (or the ICMP echo id) of a packet, to show what NAT rewrote. */
function endpoints(f: Record<string, unknown>): Endpoints | undefined {
  const src = (f['ip.src'] ?? f['ipv6.src']) as string | undefined;
  const dst = (f['ip.dst'] ?? f['ipv6.dst']) as string | undefined;
  if (src === undefined || dst === undefined) return undefined;
  const sp = f['tcp.srcport'] ?? f['udp.srcport'];
  const dp = f['tcp.dstport'] ?? f['udp.dstport'];
  if (sp !== undefined && dp !== undefined) return { src: `${src}.${String(sp)}`, dst: `${dst}.${String(dp)}` };
  return { src, dst };
}

function dissectInput(p: InputPacket): ReturnType<typeof dissect> {
  return dissect(p.data, p.l3 ? LINKTYPE_RAW : LINKTYPE_ETHERNET);
}

/** What decided a drop, for one line: the rule (handle and text), the chain's policy, or the stack's check. */
export function dropCause(path: HostPath, out: PacketOutcome): string {
  const by = out.dropBy;
  if (!by) return 'no rule or check recorded';
  if (by.kind === 'check') return `the check: ${by.check}`;
  const where = `${by.family} ${by.table} ${by.chain}`;
  if (by.handle === null) return `the policy of ${where}`;
  const fam = Number(Object.entries(FAMILY_NAME).find(([, v]) => v === by.family)?.[0]);
  return `rule handle ${by.handle} of ${where}: ${ruleText(path.ruleset, fam, by.table, by.chain, by.handle).join(' ')}`;
}

/** tcpdump's line without the window and TCP options, which say nothing about a packet's fate. */
function summary(d: ReturnType<typeof dissect>): string {
  return describe(d).replace(/, win \d+/, '').replace(/, options \[[^\]]*\]/, '');
}

function frameSummary(frame: Uint8Array, ether: boolean): string {
  return summary(dissect(frame, ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW));
}

/**
 * The journey of one packet on one line: number, the port it came in on, the
 * packet, → its fate, and where it went (with the addresses NAT gave it) or
 * what dropped it and why; then what the gateway sent back because of it.
 */
export function journeyLine(path: HostPath, s: DemoStep): string {
  const d = dissectInput(s.input);
  const out = s.outcome;
  let line = `${String(s.index).padStart(3)} ${s.dev.padEnd(4)} ${summary(d)} → ${out.fate}`;
  if (out.fate === 'dropped') line += `: ${out.reason ?? 'NOT_SPECIFIED'} by ${dropCause(path, out)}`;
  let others = out.emitted;
  if (out.fate === 'forwarded' && out.emitted[0]) {
    const fwd = out.emitted[0];
    others = out.emitted.slice(1);
    line += ` to ${fwd.dev}`;
    const a = endpoints(d.fields), b = endpoints(dissect(fwd.frame, fwd.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW).fields);
    if (a && b && (a.src !== b.src || a.dst !== b.dst)) line += ` as ${b.src} > ${b.dst}`;
  }
  for (const e of others) line += `; sent on ${e.dev}: ${frameSummary(e.frame, e.ether)}`;
  return line;
}

/** Packets of a capture file, Ethernet or bare IP (other link types are refused with the file named). */
async function* capturePackets(file: string): AsyncGenerator<InputPacket> {
  for await (const rec of readCapture(file)) {
    if (rec.linkType === LINKTYPE_ETHERNET) { yield { data: rec.data.slice(), l3: false, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true }; continue; }
    const l3 = linkL3(rec.linkType, rec.data);
    if (!l3) throw new CommandError(`nfx demo: ${file}: a frame of link type ${rec.linkType} nfx cannot read`);
    yield { data: rec.data.slice(l3.offset), l3: true, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true };
  }
}

export interface DemoReplay {
  host: Host;
  path: HostPath & { clock: VirtualClock };
  steps: DemoStep[];
  /** Every frame transmitted, with the time of the packet that caused it (empty when `onEmit` took them). */
  emitted: (WritableRecord & { linkType: number })[];
  /** How many frames were transmitted. */
  sent: number;
  /** Packets replayed (a long replay keeps only the first steps). */
  count: number;
  fates: Map<string, number>;
}

export interface ReplayOptions {
  capture?: string;
  /** The port of frames not addressed to one of the gateway's MACs (and of bare-IP packets). */
  iif?: string;
  /** Keep at most this many steps (the rest only counted). */
  keep?: number;
  /** Called every PROGRESS_EVERY packets. */
  progress?: (count: number) => void;
  /** Takes each transmitted frame as it is made (a long replay's frames are not kept in memory). */
  onEmit?: (rec: WritableRecord & { linkType: number }) => void;
}

/** Builds the gateway and replays the capture through it. */
export async function replayDemo(o: ReplayOptions = {}): Promise<DemoReplay> {
  const file = o.capture ?? DEMO_CAPTURE;
  const host = await buildGateway();
  const keep = o.keep ?? Infinity;
  // Steps and rule events are kept only while lines are printed: the rest of a long replay runs fast.
  const path = openPath(host);
  // The same ruleset, clock and conntrack table without steps and rule events: the fast mode.
  let fast: HostPath | undefined;
  const steps: DemoStep[] = [];
  const emitted: DemoReplay['emitted'] = [];
  const fates = new Map<string, number>();
  let count = 0, sent = 0;
  try {
    for await (const p of capturePackets(file)) {
      count++;
      if (count === keep + 1) {
        const fo: HostPathOptions = { ruleset: path.ruleset, clock: path.clock, detail: false };
        if (path.ct) fo.conntrack = path.ct;
        fast = new HostPath(host, fo);
      }
      const port = p.l3 ? undefined : arrivalPort(host, p.data);
      const dev = port ?? o.iif;
      const link = dev === undefined ? undefined : linkByName(host, dev);
      if (!link) {
        throw new CommandError(`nfx demo: packet ${count} is not addressed to a port of the gateway; say where it arrives with --iif lan0|dmz0|wan0`);
      }
      // A unicast frame of another network, sent in on --iif, is taken as addressed to that port
      // (as if the capture had been taken in front of the gateway); broadcast and multicast stay.
      if (!p.l3 && port === undefined && p.data.length >= 14 && (p.data[0]! & 1) === 0) p.data.set(link.mac, 0);
      advanceClock(path.clock, p);
      const outcome = (fast ?? path).receive(link.name, p.data, p.l3);
      const key = outcome.fate === 'dropped' ? `dropped (${outcome.reason ?? 'NOT_SPECIFIED'})` : outcome.fate;
      fates.set(key, (fates.get(key) ?? 0) + 1);
      const ms = path.clock.nowMs();
      const tsSec = Math.floor(ms / 1000), tsNsec = Math.round((ms - tsSec * 1000) * 1e6);
      for (const e of outcome.emitted) {
        const rec = { tsSec, tsNsec, data: e.frame, linkType: e.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW };
        if (o.onEmit) o.onEmit(rec); else emitted.push(rec);
        sent++;
      }
      if (steps.length < keep) steps.push({ index: count, dev: link.name, input: p, outcome, ms });
      if (o.progress && count % PROGRESS_EVERY === 0) o.progress(count);
    }
  } catch (e) {
    if (e instanceof PcapFormatError) throw new CommandError(`nfx demo: ${file}: ${e.message}`);
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') throw new CommandError(`nfx demo: ${file}: No such file or directory`);
    throw e;
  }
  return { host, path, steps, emitted, sent, count, fates };
}

/**
 * The two drops worth explaining in full: the first one a rule decided and the
 * first one a chain's policy (or the stack) decided; else the first two drops.
 */
export function dropsToExplain(steps: readonly DemoStep[]): DemoStep[] {
  const drops = steps.filter((s) => s.outcome.fate === 'dropped');
  const byRule = drops.find((s) => s.outcome.dropBy?.kind === 'rule' && s.outcome.dropBy.handle !== null);
  const byPolicy = drops.find((s) => s !== byRule && !(s.outcome.dropBy?.kind === 'rule' && s.outcome.dropBy.handle !== null));
  const chosen = [byRule, byPolicy].filter((s): s is DemoStep => s !== undefined);
  for (const s of drops) if (chosen.length < 2 && !chosen.includes(s)) chosen.push(s);
  return chosen.sort((a, b) => a.index - b.index);
}

/**
 * The ruleset's counters after the replay, from `nft -a list ruleset` on the
 * demo host: one line per rule with a counter, under its table and chain.
 */
export async function counterLines(host: Host, path: HostPath & { clock: VirtualClock }): Promise<string[]> {
  storePath(host, path);
  let listing = '';
  const status = await runNft(['-a', 'list', 'ruleset'], host, { out: (t) => { listing += t; }, err: () => {} }, { clock: path.clock });
  if (status !== 0) return ['(the ruleset could not be listed)'];
  return parseCounters(listing);
}

/** The rules with counters of an `nft -a list ruleset` listing (nfx's or the kernel's), one line each. */
export function parseCounters(listing: string): string[] {
  const lines: string[] = [];
  let table = '', chain = '';
  for (const raw of listing.split('\n')) {
    const l = raw.trim();
    let m = /^table (\S+ \S+) \{/.exec(l);
    if (m) { table = m[1]!; continue; }
    m = /^chain (\S+) \{/.exec(l);
    if (m) { chain = m[1]!; continue; }
    m = /^(.*?)counter packets (\d+) bytes (\d+)(.*?)(?: # handle (\d+))?$/.exec(l);
    if (m) {
      const text = `${m[1]}counter${m[4]}`.replace(/\s+/g, ' ').trim();
      lines.push(`${`${table} ${chain}`.padEnd(22)} ${m[2]!.padStart(4)} packets ${m[3]!.padStart(6)} bytes  handle ${(m[5] ?? '?').padEnd(3)} ${text}`);
    }
  }
  return lines;
}

function parseDemoArgs(argv: readonly string[]): { capture?: string; iif?: string } {
  const o: { capture?: string; iif?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`demo: option "${a}" requires an argument\n${DEMO_USAGE}`);
      return v;
    };
    if (a === '-r') o.capture = value();
    else if (a === '--iif' || a === '-i') o.iif = value();
    else throw new UsageError(`demo: unexpected argument "${a}"\n${DEMO_USAGE}`);
  }
  if (o.iif !== undefined && !['lan0', 'dmz0', 'wan0'].includes(o.iif)) throw new UsageError(`demo: --iif is one of lan0, dmz0, wan0\n${DEMO_USAGE}`);
  return o;
}

export async function demoCommand(argv: string[], ctx: CliContext): Promise<number> {
  const o = parseDemoArgs(argv);
  const capture = o.capture ?? DEMO_CAPTURE;
  const shown = capture === DEMO_CAPTURE ? 'data/demo/office.pcap' : capture;
  const say = (s = ''): void => ctx.stdout(s + '\n');
  say('nfx demo: a small-office gateway (data/demo/gateway.nfx)');
  say('  lan0 192.168.1.1/24 2001:db8:1::1/64 · dmz0 10.0.2.1/24 (web server 10.0.2.80) · wan0 203.0.113.2/24');
  say('  stateful inet filter, masquerade on wan0, port forward wan0:8080 → 10.0.2.80:80,');
  say('  a blocklist set, a rate limit on pings from the WAN');
  say(`replaying ${shown} on the virtual clock at the capture's timestamps\n`);

  const started = Date.now();
  let long = false;
  // The emitted frames go straight into a temporary file, renamed over the output at the end:
  // a reader never sees half a capture, and a long replay's frames are never all in memory.
  const outDir = join(ctx.home, 'demo');
  mkdirSync(outDir, { recursive: true });
  const out = join(ctx.home, DEMO_OUTPUT);
  const tmp = `${out}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  let replay: DemoReplay;
  let written = 0;
  try {
    const writer = new PcapWriter({ linkType: LINKTYPE_ETHERNET, nanosecond: false }, { fd });
    replay = await replayDemo({
      capture,
      ...(o.iif !== undefined ? { iif: o.iif } : {}),
      // The bundled capture is short: every packet gets its line. Another may be long.
      keep: o.capture === undefined ? Infinity : LONG_REPLAY,
      progress: (n) => {
        long = true;
        const s = (Date.now() - started) / 1000;
        ctx.stderr(`nfx demo: ${n} packets replayed (${Math.round(n / Math.max(s, 1e-3))} packets/s)\n`);
      },
      // Every port of the gateway is Ethernet; only `lo` (never a wire) carries bare IP.
      onEmit: (rec) => { if (rec.linkType === LINKTYPE_ETHERNET) { writer.write(rec); written++; } },
    });
    writer.close();
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, out);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  if (replay.count > LONG_REPLAY) long = true;
  const lines = long ? replay.steps.slice(0, LONG_REPLAY_SHOWN) : replay.steps;
  for (const s of lines) say(journeyLine(replay.path, s));
  if (long) say(`  … and ${replay.count - lines.length} more packets (only the first ${lines.length} are shown)`);

  say('\nBy fate:');
  for (const [fate, n] of [...replay.fates].sort((a, b) => b[1] - a[1])) say(`  ${String(n).padStart(7)}  ${fate}`);

  for (const s of dropsToExplain(replay.steps)) {
    say(`\nWhy was packet ${s.index} dropped? (what "nfx why --iif ${s.dev}" prints for it)`);
    for (const l of explain(replay.path.ruleset, s.input, `received on ${s.dev}`, s.outcome)) say(`  ${l}`.trimEnd());
  }

  say('\nCounters after the replay (nft -a list ruleset):');
  for (const l of await counterLines(replay.host, replay.path)) say(`  ${l}`);

  say(`\n${replay.count} packets replayed; the gateway transmitted ${replay.sent} frames; ${written} written to ${out}`);
  return EXIT_OK;
}
