/**
 * `nfx demo [-r FILE] [--iif DEV]` — the bundled scenario, end to end.
 *
 * Two sites: a small-office gateway (data/demo/gateway.nfx: LAN, DMZ and WAN
 * ports, a stateful inet filter, masquerade, a port forward, a blocklist set,
 * a rate limit) and a branch-office gateway (data/demo/branch.nfx), joined
 * by an IPsec tunnel (ESP, AES-GCM, tunnel mode, ESN, a replay window)
 * across the ISP's segment: the two WAN ports are plugged into one wire, so
 * what the office encrypts for the branch arrives at the branch and back.
 * Both are built on fresh in-memory hosts — the user's saved hosts are never
 * read or written — and the bundled capture data/demo/office.pcap is
 * replayed through them on the virtual clock at the capture's timestamps, so
 * the output is the same on every run. The demo prints each packet's journey
 * (one line per host it crossed), explains the interesting drops in full
 * (what `nfx why` prints: the first a rule decided, the first a chain policy
 * decided, and every IPsec drop), shows the rules' and xfrm's counters, and
 * writes every frame the office transmitted to `$NFX_HOME/demo/office-out.pcap`
 * and what crossed each wire to `$NFX_HOME/demo/wire-NAME.pcap`.
 *
 * With `-r FILE` another capture is replayed through the same gateways; a
 * long one prints progress on stderr and a summary instead of every line.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { readCapture, LINKTYPE_ETHERNET, LINKTYPE_RAW, linkL3 } from '../../packet/pcap/index.js';
import type { WritableRecord } from '../../packet/pcap/writer.js';
import { PcapFormatError } from '../../packet/pcap/errors.js';
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import { builtinHandlers } from '../../host/script.js';
import type { Host } from '../../host/types.js';
import { storePath } from '../../host/path/state.js';
import type { HostPath } from '../../host/path/walk.js';
import type { PacketOutcome } from '../../host/path/types.js';
import type { VirtualClock } from '../../netfilter/clock.js';
import { formatXfrmStat } from '../../xfrm/index.js';
import { runNft } from '../../nft/command.js';
import { CommandError, EXIT_OK, UsageError, type CliContext } from '../context.js';
import { nftScriptHandler } from './nft.js';
import type { InputPacket } from './inject.js';
import { explain, ruleText } from './why.js';
import { buildHost, ScriptFailed } from '../../demo/sites.js';
import { PcapFiles } from '../../demo/pcap-files.js';
import type { Hop, ReplayPacket, Site, WireFrame } from '../../demo/sites.js';
import {
  BRANCH_SCRIPT, NoArrivalPort, OFFICE_SCRIPT, SCENARIO_CAPTURE, buildScenario, isIpsecDrop, replayScenario,
} from '../../demo/scenario.js';
import type { Scenario, ScenarioOptions } from '../../demo/scenario.js';
import { tunnelCarried } from '../../host/path/xfrm-output.js';

/** The office gateway: an `nfx run` script (`ip`, `ip xfrm`, `sysctl` and an `nft -f -` here-document). */
export const DEMO_GATEWAY = OFFICE_SCRIPT;
/** The branch gateway, the tunnel's other end. */
export const DEMO_BRANCH = BRANCH_SCRIPT;
/** The capture replayed through them (made by bench/make-office-capture.ts). */
export const DEMO_CAPTURE = SCENARIO_CAPTURE;
/** Every frame the office transmitted, under `$NFX_HOME`. */
export const DEMO_OUTPUT = join('demo', 'office-out.pcap');

export const DEMO_USAGE = 'Usage: nfx demo [--iptfs] [-r FILE [--iif DEV]]';

/** Captures longer than this print progress and a summary instead of a line per packet. */
const LONG_REPLAY = 200;
/** How many journey lines a long replay still prints before it goes quiet. */
const LONG_REPLAY_SHOWN = 20;
/** A progress line every this many packets of a long replay. */
const PROGRESS_EVERY = 10_000;

function scriptHandlers(): ReturnType<typeof builtinHandlers> {
  const handlers = builtinHandlers();
  handlers.set('nft', nftScriptHandler);
  return handlers;
}

/** A fresh host with a gateway script applied; throws CommandError naming the failing line. */
export async function buildGateway(script = DEMO_GATEWAY): Promise<Host> {
  try {
    return await buildHost('demo', script, scriptHandlers());
  } catch (e) {
    if (e instanceof ScriptFailed) throw new CommandError(`nfx demo: the gateway script failed\n${e.detail}`);
    throw e;
  }
}

/** Both gateways and the WAN wire; a failing script is a CommandError naming its line. */
export async function buildDemoScenario(o: ScenarioOptions = {}): Promise<Scenario> {
  try {
    return await buildScenario(scriptHandlers(), o);
  } catch (e) {
    if (e instanceof ScriptFailed) throw new CommandError(`nfx demo: a gateway script failed\n${e.detail}`);
    throw e;
  }
}

/** One replayed packet: where it came in, what became of it, and where the wires took what it caused. */
export interface DemoStep {
  /** 1-based, as tshark numbers frames. */
  index: number;
  /** The host the captured packet arrived at (`office`, `branch`). */
  site: string;
  dev: string;
  input: InputPacket;
  outcome: PacketOutcome;
  /** Virtual time of the packet, ms since the epoch. */
  ms: number;
  /** hops[0] is this packet at `site`; the others are frames the hosts passed each other over wires. */
  hops: Hop[];
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

function hex8(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

/**
 * One host's part of a journey: the port it came in on, the packet, → its
 * fate, and where it went (with the addresses NAT gave it, or the ESP it was
 * wrapped in) or what dropped it and why; then what the host sent because of it.
 */
export function hopText(path: HostPath, dev: string, input: InputPacket, out: PacketOutcome): string {
  const d = dissectInput(input);
  const decrypted = d.fields['esp.spi'] !== undefined && out.steps.some((s) => /^xfrm: decrypted by SA/.test(s.text));
  let line = `${dev.padEnd(4)} ${summary(d)} → ${decrypted && out.fate !== 'dropped' ? 'decrypted, ' : ''}${out.fate}`;
  if (out.fate === 'dropped') line += `: ${out.reason ?? 'NOT_SPECIFIED'} by ${dropCause(path, out)}`;
  let others = out.emitted;
  if (out.fate === 'forwarded' && out.emitted[0]) {
    const fwd = out.emitted[0];
    others = out.emitted.slice(1);
    line += ` to ${fwd.dev}`;
    const f = dissect(fwd.frame, fwd.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW).fields;
    const a = endpoints(d.fields), b = endpoints(f);
    if (f['esp.spi'] !== undefined && d.fields['esp.spi'] === undefined) {
      line += ` in ESP ${String(f['ip.src'] ?? f['ipv6.src'])} > ${String(f['ip.dst'] ?? f['ipv6.dst'])} spi ${hex8(Number(f['esp.spi']))} seq ${String(f['esp.sequence'])}`;
      // More frames on the same port: the outer packet's IP fragments, or (IP-TFS) more outer packets.
      const more = out.emitted.slice(1);
      if (more.length > 0 && more.every((e) => e.dev === fwd.dev)) {
        const seqs = more.map((e) => dissect(e.frame, e.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW).fields['esp.sequence']);
        line += seqs.every((x) => x === undefined) ? ` (in ${out.emitted.length} fragments)` : ` and seq ${seqs.map(String).join(', ')}`;
        others = [];
      }
    } else if (a && b && (a.src !== b.src || a.dst !== b.dst)) line += ` as ${b.src} > ${b.dst}`;
  } else if (out.fate === 'forwarded' && out.emitted.length === 0 && out.steps.some((x) => /^xfrm: queued by IP-TFS/.test(x.text))) {
    // iptfs_output_collect(): the packet went into the SA's queue; its bytes left in an outer
    // packet reported with the packet that was queued first.
    line += ' into the IP-TFS queue, sent packed with an earlier packet';
  }
  // An offloaded connection's packet: the flowtable sent it from the ingress hook, past the rest.
  const fast = out.steps.find((x) => x.kind === 'flow' && /: fast path/.test(x.text));
  if (fast) line += ` (fast path: flowtable ${/^flowtable (\S+)/.exec(fast.text)?.[1] ?? ''})`;
  for (const e of others) line += `; sent on ${e.dev}: ${frameSummary(e.frame, e.ether)}`;
  return line;
}

/** The journey of one packet: a line for the host it arrived at, and one per host a wire took it (or its consequences) to. */
export function journeyLines(sc: Scenario, s: DemoStep): string[] {
  const pathOf = (site: string): HostPath => sc.sites.find((x) => x.name === site)!.path;
  const lines = [`${String(s.index).padStart(3)} ${s.site.padEnd(6)} ${hopText(pathOf(s.site), s.dev, s.input, s.outcome)}`];
  for (const h of s.hops.slice(1)) lines.push(`${' '.repeat(4 + 3 * h.depth)}↳ ${h.site.padEnd(6)} ${hopText(pathOf(h.site), h.dev, h.input, h.outcome)}`);
  return lines;
}

/** Packets of a capture file, Ethernet or bare IP (other link types are refused with the file named). */
async function* capturePackets(file: string): AsyncGenerator<ReplayPacket> {
  for await (const rec of readCapture(file)) {
    if (rec.linkType === LINKTYPE_ETHERNET) { yield { data: rec.data.slice(), l3: false, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true }; continue; }
    const l3 = linkL3(rec.linkType, rec.data);
    if (!l3) throw new CommandError(`nfx demo: ${file}: a frame of link type ${rec.linkType} nfx cannot read`);
    yield { data: rec.data.slice(l3.offset), l3: true, tsSec: rec.tsSec, tsNsec: rec.tsNsec, timed: true };
  }
}

export interface DemoReplay {
  scenario: Scenario;
  /** The office gateway's host and path (the single-site demo's `host` and `path`). */
  host: Host;
  path: HostPath & { clock: VirtualClock };
  steps: DemoStep[];
  /** Every frame the office transmitted, with its time (empty when `onEmit` took them). */
  emitted: (WritableRecord & { linkType: number })[];
  /** How many frames the hosts transmitted. */
  sent: number;
  /** Packets replayed (a long replay keeps only the first steps). */
  count: number;
  /** Fates of every packet a host received (from the capture or over a wire). */
  fates: Map<string, number>;
  /** ESP packets (and their IP bytes) each site put on the wan wire. */
  outer: Map<string, { packets: number; bytes: number }>;
}

export interface ReplayOptions {
  capture?: string;
  /** The office port of frames not addressed to a gateway's MAC (and of bare-IP packets). */
  iif?: string;
  /** Keep at most this many steps (the rest only counted). */
  keep?: number;
  /** Called every PROGRESS_EVERY packets. */
  progress?: (count: number) => void;
  /** Takes each frame the office transmitted as it is made (a long replay's frames are not kept in memory). */
  onEmit?: (rec: WritableRecord & { linkType: number }) => void;
  /** Takes every frame any host transmitted, with the wire it went onto. */
  onFrame?: (f: WireFrame) => void;
  /** The gateways without their flowtables (scenario.ts withoutFlowtables). */
  withoutFlowtables?: boolean;
  /** The tunnel in IP-TFS mode (`nfx demo --iptfs`). */
  iptfs?: boolean;
}

/** Builds both gateways and replays the capture through them. */
export async function replayDemo(o: ReplayOptions = {}): Promise<DemoReplay> {
  const file = o.capture ?? DEMO_CAPTURE;
  const sc = await buildDemoScenario({ ...(o.iptfs ? { iptfs: true } : {}), ...(o.withoutFlowtables ? { withoutFlowtables: true } : {}) });
  const emitted: DemoReplay['emitted'] = [];
  const outer = new Map<string, { packets: number; bytes: number }>();
  try {
    const r = await replayScenario(sc, capturePackets(file), {
      ...(o.iif !== undefined ? { iif: o.iif } : {}),
      ...(o.keep !== undefined ? { keep: o.keep } : {}),
      ...(o.progress ? { progress: o.progress, progressEvery: PROGRESS_EVERY } : {}),
      onFrame: (f) => {
        if (f.site === 'office') { if (o.onEmit) o.onEmit(f.rec); else emitted.push(f.rec); }
        // An IPv4 ESP packet (or a fragment of one) on the wan wire: the tunnel's outer traffic.
        const d = f.rec.data;
        if (f.wire === 'wan' && f.rec.linkType === LINKTYPE_ETHERNET && d.length >= 34 && d[12] === 0x08 && d[13] === 0x00 && d[23] === 50) {
          const c = outer.get(f.site) ?? { packets: 0, bytes: 0 };
          c.packets++; c.bytes += d.length - 14;
          outer.set(f.site, c);
        }
        o.onFrame?.(f);
      },
    });
    const steps: DemoStep[] = r.steps.map((s) => {
      const h = s.hops[0]!;
      return { index: s.index, site: h.site, dev: h.dev, input: h.input, outcome: h.outcome, ms: s.ms, hops: s.hops };
    });
    return { scenario: sc, host: sc.office.host, path: sc.office.path, steps, emitted, sent: r.sent, count: r.count, fates: r.fates, outer };
  } catch (e) {
    if (e instanceof NoArrivalPort) throw new CommandError(`nfx demo: packet ${e.index} is not addressed to a port of the gateway; say where it arrives with --iif lan0|dmz0|wan0`);
    if (e instanceof PcapFormatError) throw new CommandError(`nfx demo: ${file}: ${e.message}`);
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') throw new CommandError(`nfx demo: ${file}: No such file or directory`);
    throw e;
  }
}

/** A hop worth explaining in full, with the step it belongs to. */
export interface Explained { step: DemoStep; hop: Hop }

/**
 * The drops worth explaining in full: the first one a rule decided, the
 * first one a chain's policy (or a check other than IPsec's) decided, and
 * every IPsec drop — xfrm's checks and the path MTU its overhead lowered.
 */
export function dropsToExplain(steps: readonly DemoStep[]): Explained[] {
  const drops: Explained[] = [];
  for (const step of steps) for (const hop of step.hops) if (hop.outcome.fate === 'dropped') drops.push({ step, hop });
  const byRule = drops.find((d) => d.hop.outcome.dropBy?.kind === 'rule' && d.hop.outcome.dropBy.handle !== null);
  const byPolicy = drops.find((d) => d !== byRule && !isIpsecDrop(d.hop.outcome.dropBy) &&
    !(d.hop.outcome.dropBy?.kind === 'rule' && d.hop.outcome.dropBy.handle !== null));
  const chosen = drops.filter((d) => d === byRule || d === byPolicy || isIpsecDrop(d.hop.outcome.dropBy));
  for (const d of drops) if (chosen.length < 2 && !chosen.includes(d)) chosen.push(d);
  return chosen;
}

/** What `nfx why` prints for one hop, on the host it happened at. */
export function explainHop(sc: Scenario, e: Explained): string[] {
  const site = sc.sites.find((x) => x.name === e.hop.site)!;
  const where = e.hop.wire !== undefined ? `received on ${site.name}'s ${e.hop.dev} from the ${e.hop.wire} wire` : `received on ${e.hop.dev}`;
  return explain(site.path.ruleset, e.hop.input, where, e.hop.outcome);
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

/** The /proc/net/xfrm_stat counters of a site that are not zero. */
export function xfrmStatLines(site: Site): string[] {
  const x = site.path.xfrmState;
  if (!x) return [];
  return formatXfrmStat(x).split('\n').filter((l) => /\s[1-9]\d*$/.test(l)).map((l) => l.replace(/\s+/, ' '));
}

/** The SA each site sends the tunnel's traffic with (the templates' reqid 1 at the office, 2 at the branch). */
const TUNNEL_OUT: Record<string, { spi: number; peer: string }> = { office: { spi: 0x1001, peer: 'branch' }, branch: { spi: 0x2001, peer: 'office' } };

/**
 * The tunnel's efficiency, one line per direction: the inner packets (and
 * their IP bytes) the sending gateway handed its SA, the outer ESP packets
 * (and their IP bytes) it put on the wan wire, and the share of those bytes
 * that are inner packets. IP-TFS packs several inner packets into one outer
 * packet (and splits large ones), plain ESP makes one outer packet each.
 */
export function tunnelLines(rep: DemoReplay): string[] {
  const lines: string[] = [];
  for (const site of rep.scenario.sites) {
    const t = TUNNEL_OUT[site.name];
    const sa = t && site.path.xfrmState?.sad.states.find((x) => x.spi === t.spi);
    if (!t || !sa) continue;
    const inner = tunnelCarried(sa);
    const out = rep.outer.get(site.name) ?? { packets: 0, bytes: 0 };
    const eff = out.bytes > 0 ? `${(100 * inner.bytes / out.bytes).toFixed(1)} %` : 'n/a';
    lines.push(`${site.name} → ${t.peer}: ${inner.packets} inner packets (${inner.bytes} bytes) in ${out.packets} outer ESP packets (${out.bytes} bytes): efficiency ${eff}`);
  }
  return lines;
}

function parseDemoArgs(argv: readonly string[]): { capture?: string; iif?: string; iptfs?: boolean } {
  const o: { capture?: string; iif?: string; iptfs?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`demo: option "${a}" requires an argument\n${DEMO_USAGE}`);
      return v;
    };
    if (a === '-r') o.capture = value();
    else if (a === '--iif' || a === '-i') o.iif = value();
    else if (a === '--iptfs') o.iptfs = true;
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
  say('nfx demo: two sites joined by an IPsec tunnel');
  say('  office (data/demo/gateway.nfx): lan0 192.168.1.1/24 2001:db8:1::1/64 · dmz0 10.0.2.1/24 (web server 10.0.2.80) · wan0 203.0.113.2/24');
  say('    stateful inet filter, masquerade on wan0, port forward wan0:8080 → 10.0.2.80:80,');
  say('    a blocklist set, a rate limit on pings from the WAN, a flowtable for established connections');
  say('  branch (data/demo/branch.nfx): lan0 192.168.2.1/24 · lab0 10.99.0.1/24 · wan0 203.0.113.30/24');
  if (o.iptfs) say('  tunnel: IP-TFS (RFC 9347) over ESP rfc4106(gcm(aes)) 128-bit, ESN, init-delay 2 ms, reorder window 3,');
  else say('  tunnel: ESP rfc4106(gcm(aes)) 128-bit, tunnel mode, ESN, replay window 128,');
  say('    192.168.1.0/24 ⇄ 192.168.2.0/24 between 203.0.113.2 and 203.0.113.30; the wan wire joins both wan0 ports');
  say(`replaying ${shown} on the virtual clock at the capture's timestamps\n`);

  const started = Date.now();
  let long = false;
  // The emitted frames go straight into temporary files, renamed over the outputs at the end:
  // a reader never sees half a capture, and a long replay's frames are never all in memory.
  const outDir = join(ctx.home, 'demo');
  mkdirSync(outDir, { recursive: true });
  const files = new PcapFiles(outDir);
  const OFFICE_OUT = 'office-out.pcap';
  let replay: DemoReplay;
  try {
    files.ensure(OFFICE_OUT);
    replay = await replayDemo({
      capture,
      ...(o.iptfs ? { iptfs: true } : {}),
      ...(o.iif !== undefined ? { iif: o.iif } : {}),
      // The bundled capture is short: every packet gets its line. Another may be long.
      keep: o.capture === undefined ? Infinity : LONG_REPLAY,
      progress: (n) => {
        long = true;
        const s = (Date.now() - started) / 1000;
        ctx.stderr(`nfx demo: ${n} packets replayed (${Math.round(n / Math.max(s, 1e-3))} packets/s)\n`);
      },
      // Every port is Ethernet; only `lo` (never a wire) carries bare IP.
      onEmit: () => {},
      onFrame: (f) => {
        if (f.rec.linkType !== LINKTYPE_ETHERNET) return;
        if (f.site === 'office') files.write(OFFICE_OUT, f.rec);
        files.write(`wire-${f.wire}.pcap`, f.rec);
      },
    });
    files.commit();
  } catch (e) {
    files.abort();
    throw e;
  }
  const sc = replay.scenario;
  if (replay.count > LONG_REPLAY) long = true;
  const lines = long ? replay.steps.slice(0, LONG_REPLAY_SHOWN) : replay.steps;
  for (const s of lines) for (const l of journeyLines(sc, s)) say(l);
  if (long) say(`  … and ${replay.count - lines.length} more packets (only the first ${lines.length} are shown)`);

  say('\nBy fate (every packet a gateway received, from the capture or over the wan wire):');
  for (const [fate, n] of [...replay.fates].sort((a, b) => b[1] - a[1])) say(`  ${String(n).padStart(7)}  ${fate}`);

  for (const e of dropsToExplain(replay.steps)) {
    const hop = e.hop;
    const how = hop.wire !== undefined ? ` (its frame on the ${hop.wire} wire, at the ${hop.site} gateway)` : ` at the ${hop.site} gateway`;
    say(`\nWhy was packet ${e.step.index} dropped${how}? What "nfx -n ${hop.site} why --iif ${hop.dev}" prints for it:`);
    for (const l of explainHop(sc, e)) say(`  ${l}`.trimEnd());
  }

  say(`\nThe tunnel on the wan wire (${o.iptfs ? 'IP-TFS' : 'ESP tunnel mode'}):`);
  for (const l of tunnelLines(replay)) say(`  ${l}`);

  for (const site of sc.sites) {
    say(`\nCounters on the ${site.name} gateway after the replay (nft -a list ruleset):`);
    for (const l of await counterLines(site.host, site.path)) say(`  ${l}`);
    const stat = xfrmStatLines(site);
    if (stat.length) say(`  xfrm_stat: ${stat.join(', ')}`);
  }

  const out = join(ctx.home, DEMO_OUTPUT);
  const wires = files.names().filter((n) => n.startsWith('wire-')).sort();
  say(`\n${replay.count} packets replayed; the gateways transmitted ${replay.sent} frames; ${files.count(OFFICE_OUT)} from the office written to ${out}`);
  say(`per wire, in ${outDir}: ${wires.map((n) => `${n} (${files.count(n)})`).join(', ')}`);
  return EXIT_OK;
}
