/**
 * A replay through several virtual hosts joined by wires: each captured
 * frame arrives at the host port whose MAC it is addressed to (a capture
 * taken in front of the gateways sees exactly that), and every frame a host
 * transmits onto a wire that another host's port is plugged into arrives
 * there at the same virtual time — the office's ESP reaches the branch, the
 * branch's answer comes back — as a chain of hops reported with the captured
 * packet that started it.
 */
import { readFileSync } from 'node:fs';
import { newHost } from '../host/model.js';
import { linkByName } from '../host/links.js';
import { builtinHandlers, runScript } from '../host/script.js';
import type { ScriptHandler } from '../host/script.js';
import type { Host } from '../host/types.js';
import { openPath } from '../host/path/state.js';
import { HostPath, type HostPathOptions } from '../host/path/walk.js';
import type { PacketOutcome } from '../host/path/types.js';
import type { VirtualClock } from '../netfilter/clock.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../packet/pcap/index.js';
import type { WritableRecord } from '../packet/pcap/writer.js';
import { Wire } from './wire.js';

/** A packet to replay: bytes (Ethernet, or IP when `l3`) and its capture time. */
export interface ReplayPacket { data: Uint8Array; l3: boolean; tsSec: number; tsNsec: number; timed: boolean }

/** How many wires a chain of hops may cross before the replay stops following it. */
export const MAX_HOPS = 8;

/** A virtual host of the scenario: built from its `nfx run` script on a fresh in-memory host. */
export class Site {
  readonly name: string;
  readonly host: Host;
  readonly path: HostPath & { clock: VirtualClock };
  private fastPath: HostPath | undefined;

  constructor(name: string, host: Host) {
    this.name = name;
    this.host = host;
    this.path = openPath(host);
  }

  /** The paths in use (the detailed one, and the fast one once a long replay switched to it). */
  paths(): HostPath[] {
    return this.fastPath ? [this.path, this.fastPath] : [this.path];
  }

  /**
   * The same ruleset, clock, conntrack table, flowtables and SAD/SPD without
   * step records: the fast mode for the long tail of a replay.
   */
  fast(): HostPath {
    if (!this.fastPath) {
      // The flowtables' flows belong with the conntrack table: connections offloaded while
      // steps were recorded keep their fast path (and [OFFLOAD] in conntrack means a live flow).
      const o: HostPathOptions = { ruleset: this.path.ruleset, clock: this.path.clock, detail: false, flowtables: this.path.flowtables };
      if (this.path.ct) o.conntrack = this.path.ct;
      if (this.path.xfrmState) o.xfrm = this.path.xfrmState;
      this.fastPath = new HostPath(this.host, o);
    }
    return this.fastPath;
  }
}

/** Runs an `nfx run` script (optionally edited first) on a fresh host named `name`; rejects with the script's error text. */
export async function buildHost(name: string, script: string, handlers: Map<string, ScriptHandler>, edit?: (text: string) => string): Promise<Host> {
  const host = newHost(name);
  let err = '';
  const text = readFileSync(script, 'utf8');
  const res = await runScript(host, edit ? edit(text) : text, {
    file: script.replace(/.*\/data\//, 'data/'),
    handlers,
    io: { out: () => {}, err: (t) => { err += t; } },
    readFile: (p) => readFileSync(p, 'utf8'),
  });
  if (res.status !== 0) throw new ScriptFailed(script, err.trimEnd());
  return host;
}

export class ScriptFailed extends Error {
  constructor(readonly script: string, readonly detail: string) { super(`${script}: ${detail}`); }
}

export { builtinHandlers };

/** One host's part in a packet's journey. */
export interface Hop {
  site: string;
  dev: string;
  input: ReplayPacket;
  outcome: PacketOutcome;
  /** 0 for the captured packet, n for a frame the previous hop put on a wire. */
  depth: number;
  /** The wire that carried the frame here (absent for the captured packet). */
  wire?: string;
}

/** A frame a host transmitted, with the wire it went onto. */
export interface WireFrame {
  site: string;
  dev: string;
  wire: string;
  rec: WritableRecord & { linkType: number };
}

/** The wire of every port: the scenario's wires, else a wire of its own named `site-dev` (to the stations outside). */
export function wireOf(wires: readonly Wire[], site: string, dev: string): { name: string; wire?: Wire } {
  const w = wires.find((x) => x.has(site, dev));
  return w ? { name: w.name, wire: w } : { name: `${site}-${dev}` };
}

/** The site and port a captured Ethernet frame is addressed to (group addresses match none). */
export function arrival(sites: readonly Site[], frame: Uint8Array): { site: Site; dev: string } | undefined {
  if (frame.length < 6 || (frame[0]! & 1)) return undefined;
  for (const s of sites) {
    for (const l of s.host.links) {
      if (l.kind === 'loopback' || l.mac.length !== 6) continue;
      let same = true;
      for (let i = 0; i < 6; i++) if (l.mac[i] !== frame[i]) { same = false; break; }
      if (same) return { site: s, dev: l.name };
    }
  }
  return undefined;
}

/**
 * Follows packets across the wires: sends a packet into a host, carries every
 * frame the host transmits onto a wire to the ports it is addressed to (as a
 * new hop of the same journey), and keeps carrying what timers send later
 * (IP-TFS packs its queue when init-delay runs out): a timer's frames are
 * added to the outcome of the packet that caused them, and carried from there.
 */
export class Carrier {
  private readonly owner = new WeakMap<PacketOutcome, { hops: Hop[]; depth: number; site: Site; fast: boolean }>();
  private readonly done = new WeakMap<PacketOutcome, number>();

  constructor(
    readonly sites: readonly Site[],
    readonly wires: readonly Wire[],
    private readonly onFrame: (f: WireFrame) => void,
  ) {}

  /** Sends `p` into `site` on `dev`; the hops list grows when timers send more because of it. */
  inject(site: Site, dev: string, p: ReplayPacket, fast: boolean): Hop[] {
    const hops: Hop[] = [];
    this.visit(hops, site, dev, p, 0, undefined, fast);
    return hops;
  }

  /** Moves every host's clock on to `ms`, firing the timers due before it, and carries what they sent. */
  advance(ms: number): void {
    for (const s of this.sites) this.advanceSite(s, ms);
  }

  /** Runs every host's timers out (the end of a replay), carrying what they send, until all are quiet. */
  drain(): void {
    for (let round = 0; round < 16; round++) {
      let changed = 0;
      for (const s of this.sites) {
        for (const path of s.paths()) {
          const c = path.drain();
          changed += c.length;
          for (const o of c) this.carry(o);
        }
      }
      if (changed === 0) return;
    }
  }

  private advanceSite(s: Site, ms: number): void {
    for (const path of s.paths()) for (const o of path.advance(ms)) this.carry(o);
  }

  private visit(hops: Hop[], s: Site, d: string, input: ReplayPacket, depth: number, wire: string | undefined, fast: boolean): void {
    const outcome = (fast ? s.fast() : s.path).receive(d, input.data, input.l3);
    const hop: Hop = { site: s.name, dev: d, input, outcome, depth };
    if (wire !== undefined) hop.wire = wire;
    hops.push(hop);
    this.owner.set(outcome, { hops, depth, site: s, fast });
    this.carry(outcome);
  }

  /** Carries the frames of `outcome` not carried yet. */
  private carry(outcome: PacketOutcome): void {
    const o = this.owner.get(outcome);
    if (!o) return;
    const from = this.done.get(outcome) ?? 0;
    const emitted = outcome.emitted;
    this.done.set(outcome, emitted.length);
    const ms = o.site.path.clock.nowMs();
    const tsSec = Math.floor(ms / 1000), tsNsec = Math.round((ms - tsSec * 1000) * 1e6);
    for (let i = from; i < emitted.length; i++) {
      const e = emitted[i]!;
      const w = wireOf(this.wires, o.site.name, e.dev);
      this.onFrame({ site: o.site.name, dev: e.dev, wire: w.name, rec: { tsSec, tsNsec, data: e.frame, linkType: e.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW } });
      if (!w.wire || !e.ether || o.depth + 1 > MAX_HOPS) continue;
      for (const r of w.wire.receivers({ site: o.site.name, dev: e.dev }, e.frame)) {
        const peer = this.sites.find((x) => x.name === r.site)!;
        if (!linkByName(peer.host, r.dev)) continue;
        // The frame arrives when it was sent: the receiver's clock (and its timers) catch up first.
        this.advanceSite(peer, ms);
        this.visit(o.hops, peer, r.dev, { data: e.frame.slice(), l3: false, tsSec, tsNsec, timed: false }, o.depth + 1, w.name, o.fast);
      }
    }
  }
}
