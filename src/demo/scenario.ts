/**
 * The demo's two sites: the office gateway (data/demo/gateway.nfx) and the
 * branch gateway (data/demo/branch.nfx), each an `nfx run` script applied to
 * a fresh in-memory host, their WAN ports plugged into one wire (the ISP's
 * segment 203.0.113.0/24), and the replay of a capture through both.
 */
import { fileURLToPath } from 'node:url';
import type { ScriptHandler } from '../host/script.js';
import type { VirtualClock } from '../netfilter/clock.js';
import type { DropBy } from '../host/path/types.js';
import { Carrier, Site, arrival, buildHost } from './sites.js';
import type { Hop, ReplayPacket, WireFrame } from './sites.js';
import { Wire } from './wire.js';

const DATA = new URL('../../../data/demo/', import.meta.url);
/** The office gateway: an `nfx run` script (`ip`, `ip xfrm`, `sysctl` and an `nft -f -` here-document). */
export const OFFICE_SCRIPT = fileURLToPath(new URL('gateway.nfx', DATA));
/** The branch gateway, the tunnel's other end. */
export const BRANCH_SCRIPT = fileURLToPath(new URL('branch.nfx', DATA));
/** The capture replayed through both (made by bench/make-office-capture.ts). */
export const SCENARIO_CAPTURE = fileURLToPath(new URL('office.pcap', DATA));

export interface Scenario {
  sites: Site[];
  wires: Wire[];
  office: Site;
  branch: Site;
}

export interface ScenarioOptions {
  /**
   * Run the tunnel in IP-TFS mode (RFC 9347; `mode iptfs`) instead of ESP
   * tunnel mode: the scripts' SAs and templates are switched as they are
   * read, each SA gets its direction (`dir out` with an init-delay of 2 ms
   * to gather packets, `dir in` with a reorder window), and the outbound
   * SAs drop their replay window, as the kernel requires of output SAs.
   */
  iptfs?: boolean;
  /**
   * The gateways without their flowtables (the slow path for every packet): what a
   * kernel without nf_flow_table runs, for the differential tests on this machine.
   */
  withoutFlowtables?: boolean;
}

/** The WAN address each script's host has: its own SAs send from it. */
const OWN_WAN: Record<string, string> = { office: '203.0.113.2', branch: '203.0.113.30' };

/** A script's tunnel switched to IP-TFS (ScenarioOptions.iptfs). */
export function iptfsScript(site: string, text: string): string {
  const own = OWN_WAN[site];
  return text.replace(/\bmode tunnel\b/g, 'mode iptfs').replace(/ip xfrm state add src (\S+) [^\n\\]*(?:\\\n[^\n\\]*)*/g, (line, src: string) => {
    if (src === own) return `${line.replace(/ replay-window \d+/, '')} dir out iptfs-opts init-delay 2000`;
    return `${line} dir in iptfs-opts reorder-window 3`;
  });
}

/**
 * A script's nft text without flowtables: each `flowtable NAME { ... }` block and each
 * `flow add @NAME` statement (the line holding it) removed.
 */
export function withoutFlowtables(text: string): string {
  const out: string[] = [];
  let inBlock = false, depth = 0;
  for (const line of text.split('\n')) {
    if (!inBlock && /^\s*flowtable \S+\s*\{/.test(line)) { inBlock = true; depth = 0; }
    if (inBlock) {
      // The block ends on the line that closes its first brace (it may be this one).
      for (const ch of line) { if (ch === '{') depth++; else if (ch === '}') depth--; }
      if (depth <= 0) inBlock = false;
      continue;
    }
    if (/\bflow (?:add|offload) @/.test(line)) continue;
    out.push(line);
  }
  return out.join('\n');
}

/**
 * Both gateways and the WAN wire between them. `handlers` are the script
 * commands (`ip`, `sysctl` built in; the caller adds `nft`).
 */
export async function buildScenario(handlers: Map<string, ScriptHandler>, o: ScenarioOptions = {}): Promise<Scenario> {
  const edit = (site: string) => (o.iptfs || o.withoutFlowtables
    ? (t: string) => { const a = o.iptfs ? iptfsScript(site, t) : t; return o.withoutFlowtables ? withoutFlowtables(a) : a; }
    : undefined);
  const office = new Site('office', await buildHost('office', OFFICE_SCRIPT, handlers, edit('office')));
  const branch = new Site('branch', await buildHost('branch', BRANCH_SCRIPT, handlers, edit('branch')));
  const wan = new Wire('wan', [
    { site: 'office', host: office.host, dev: 'wan0' },
    { site: 'branch', host: branch.host, dev: 'wan0' },
  ]);
  return { sites: [office, branch], wires: [wan], office, branch };
}

/** One captured packet and the journey it started, host by host. */
export interface ScenarioStep {
  /** 1-based, as tshark numbers frames. */
  index: number;
  /** Virtual time of the packet, ms since the epoch. */
  ms: number;
  /** hops[0] is the captured packet at the host it was addressed to; the rest crossed wires. */
  hops: Hop[];
}

export interface ScenarioReplayOptions {
  /** Where a frame addressed to no port arrives (and bare-IP packets): a port of the office. */
  iif?: string;
  /** Keep at most this many steps (the rest run in fast mode and are only counted). */
  keep?: number;
  /** Called every `progressEvery` packets. */
  progress?: (count: number) => void;
  progressEvery?: number;
  /** Every frame any host transmitted, in order. */
  onFrame?: (f: WireFrame) => void;
}

export interface ScenarioReplay {
  steps: ScenarioStep[];
  /** Packets replayed. */
  count: number;
  /** Frames the hosts transmitted. */
  sent: number;
  /** Fates of every hop (each packet a host received, from the capture or a wire), by fate and drop reason. */
  fates: Map<string, number>;
}

/** Thrown for a packet that is addressed to no port when no `iif` says where it arrives. */
export class NoArrivalPort extends Error {
  constructor(readonly index: number) { super(`packet ${index} is not addressed to a port of a gateway`); }
}

/** Replays `packets` through the scenario, on the virtual clock at their timestamps. */
export async function replayScenario(sc: Scenario, packets: AsyncIterable<ReplayPacket>, o: ScenarioReplayOptions = {}): Promise<ScenarioReplay> {
  const keep = o.keep ?? Infinity;
  const every = o.progressEvery ?? 10_000;
  const steps: ScenarioStep[] = [];
  const fates = new Map<string, number>();
  const count1 = (h: Hop): void => {
    const key = h.outcome.fate === 'dropped' ? `dropped (${h.outcome.reason ?? 'NOT_SPECIFIED'})` : h.outcome.fate;
    fates.set(key, (fates.get(key) ?? 0) + 1);
  };
  let count = 0, sent = 0;
  const carrier = new Carrier(sc.sites, sc.wires, (f) => { sent++; o.onFrame?.(f); });
  for await (const p of packets) {
    count++;
    let to = p.l3 ? undefined : arrival(sc.sites, p.data);
    if (!to && o.iif !== undefined) {
      // A unicast frame of another network, sent in on --iif, is taken as addressed to that port
      // (as if the capture had been taken in front of the gateway); broadcast and multicast stay.
      const link = sc.office.host.links.find((l) => l.name === o.iif);
      if (link) {
        if (!p.l3 && p.data.length >= 14 && (p.data[0]! & 1) === 0) p.data.set(link.mac, 0);
        to = { site: sc.office, dev: link.name };
      }
    }
    if (!to) throw new NoArrivalPort(count);
    // Timers due before the packet (IP-TFS's init-delay) fire first, at their own time.
    if (p.timed) carrier.advance(p.tsSec * 1000 + p.tsNsec / 1e6);
    const fast = count > keep;
    const hops = carrier.inject(to.site, to.dev, p, fast);
    // A kept step's fates are counted at the end: timers may still change them.
    if (fast) hops.forEach(count1);
    else steps.push({ index: count, ms: to.site.path.clock.nowMs(), hops });
    if (o.progress && count % every === 0) o.progress(count);
  }
  carrier.drain();
  for (const s of steps) s.hops.forEach(count1);
  return { steps, count, sent, fates };
}

/** Whether a drop was IPsec's: an xfrm check, or the path MTU that ESP's overhead lowered. */
export function isIpsecDrop(by: DropBy | undefined): boolean {
  return by?.kind === 'check' && (/^xfrm /.test(by.check) || /IPsec path MTU/.test(by.check));
}
