/**
 * The path's state kept with a host between commands, in the host's named
 * sections: `nftables` (the committed ruleset as `serialize()` writes it),
 * `conntrack` (confirmed entries) and `clock` (the host's virtual time, so
 * timeouts keep running across commands).
 */
import type { Host } from '../types.js';
import { Ruleset, deserialize, serialize } from '../../netfilter/ruleset.js';
import { VirtualClock } from '../../netfilter/clock.js';
import { ConntrackTable, deserializeConntrack, serializeConntrack } from '../../netfilter/conntrack/index.js';
import type { ConntrackJson } from '../../netfilter/conntrack/index.js';
import { sysctlGet } from '../sysctl.js';
import { HostPath } from './walk.js';
import type { HostPathOptions } from './walk.js';
import { rulesetUsesConntrack } from './hooks.js';
import { loadXfrm, storeXfrm } from './xfrm-state.js';
import { restoreFlowtables, serializeFlowtables } from './flowtable.js';
import type { FlowtablesJson } from './flowtable.js';

export const SECTION_NFTABLES = 'nftables';
export const SECTION_CONNTRACK = 'conntrack';
export const SECTION_CLOCK = 'clock';
export const SECTION_FLOWTABLES = 'flowtables';

/** The host's ruleset: the `nftables` section holds serialize()'s text (or its parsed JSON). */
export function loadRuleset(host: Host, clock: VirtualClock): Ruleset {
  const s = host.sections[SECTION_NFTABLES];
  if (s === undefined || s === null) return new Ruleset();
  return deserialize(typeof s === 'string' ? s : JSON.stringify(s), clock);
}

export function hostClock(host: Host): VirtualClock {
  const c = host.sections[SECTION_CLOCK] as { nowMs?: number } | undefined;
  return new VirtualClock(typeof c?.nowMs === 'number' ? c.nowMs : 0);
}

/** A path over the saved host: its ruleset, conntrack table and clock. */
export function openPath(host: Host, o: Omit<HostPathOptions, 'ruleset' | 'clock' | 'conntrack'> = {}): HostPath & { clock: VirtualClock } {
  const clock = hostClock(host);
  const ruleset = loadRuleset(host, clock);
  const opts: HostPathOptions = { ...o, ruleset, clock };
  // `ip xfrm` keeps the SAD/SPD in the `xfrm` section; the walk uses it on the host's clock.
  const xfrm = o.xfrm ?? loadXfrm(host, clock);
  if (xfrm) opts.xfrm = xfrm;
  if (rulesetUsesConntrack(ruleset)) {
    const ct = new ConntrackTable(clock, (k) => { const v = sysctlGet(host, k); return v === undefined ? undefined : Number(v); });
    const saved = host.sections[SECTION_CONNTRACK] as ConntrackJson | undefined;
    if (saved) deserializeConntrack(ct, saved);
    opts.conntrack = ct;
  }
  const path = new HostPath(host, opts) as HostPath & { clock: VirtualClock };
  // The flowtables' offloaded flows, back on the connections they belong to.
  const flows = host.sections[SECTION_FLOWTABLES] as FlowtablesJson | undefined;
  if (flows && path.ct) restoreFlowtables(path.flowtables, ruleset, host, flows);
  return path;
}

/** Writes the path's state back into the host's sections (the caller saves the host). */
export function storePath(host: Host, path: HostPath & { clock: VirtualClock }): void {
  host.sections[SECTION_NFTABLES] = serialize(path.ruleset, path.clock);
  if (path.ct) host.sections[SECTION_CONNTRACK] = serializeConntrack(path.ct);
  if (path.ct) host.sections[SECTION_FLOWTABLES] = serializeFlowtables(path.flowtables, path.ruleset, host);
  host.sections[SECTION_CLOCK] = { nowMs: path.clock.nowMs() };
  // Sequence numbers, lifetimes and xfrm_stat counters moved with the packets.
  if (path.xfrmState) storeXfrm(host, path.xfrmState);
}
