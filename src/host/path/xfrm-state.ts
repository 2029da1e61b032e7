/**
 * The host's xfrm state (SAD, SPD, counters) kept in `host.sections.xfrm`,
 * and the ESP engine's half of each SA. The SAD entry (src/xfrm) owns
 * lookup, lifetimes and `ip xfrm`; the ESP engine (src/xfrm/esp) owns the
 * transform and the live replay window. One EspSa is made per SAD entry on
 * first use and its sequence numbers are written back to the SAD entry after
 * every packet, so `ip -s xfrm state` and the saved host see them.
 */
import type { Host } from '../types.js';
import { Xfrm, XFRM_MODE_IPTFS, XFRM_MODE_TUNNEL, deserializeXfrm, serializeXfrm, espSaConfigFromXfrm } from '../../xfrm/index.js';
import type { XfrmJson, XfrmSA, Clock } from '../../xfrm/index.js';
import { createEspSa } from '../../xfrm/esp/index.js';
import type { EspSa } from '../../xfrm/esp/index.js';

export const SECTION_XFRM = 'xfrm';

/** The saved xfrm state of a host, or undefined when `ip xfrm` never configured one. */
export function loadXfrm(host: Host, clock: Clock): Xfrm | undefined {
  const s = host.sections[SECTION_XFRM] as XfrmJson | undefined | null;
  if (!s) return undefined;
  return deserializeXfrm(s, { clock });
}

export function storeXfrm(host: Host, x: Xfrm): void {
  for (const sa of x.sad.states) {
    const e = engines.get(sa);
    if (e) { syncReplay(sa, e); storeBitmap(sa, e); }
  }
  host.sections[SECTION_XFRM] = serializeXfrm(x);
}

/** Whether IPsec can affect a packet at all: the path skips xfrm entirely otherwise. */
export function xfrmActive(x: Xfrm | undefined): x is Xfrm {
  if (!x) return false;
  const d = x.policyDefault;
  return x.sad.count > 0 || x.spd.policies.length > 0 || d.in === 'block' || d.fwd === 'block' || d.out === 'block';
}

const engines = new WeakMap<XfrmSA, EspSa>();

/** The ESP engine's SA for a SAD entry (made once, from the entry's keys and replay state). */
export function espSaOf(sa: XfrmSA): EspSa {
  let e = engines.get(sa);
  if (!e) {
    // An IP-TFS SA's ESP is tunnel-mode ESP (xfrm-iptfs.ts frames the AGGFRAG payload).
    e = createEspSa(espSaConfigFromXfrm(sa.mode === XFRM_MODE_IPTFS ? { ...sa, mode: XFRM_MODE_TUNNEL } : sa));
    restoreBitmap(sa, e);
    engines.set(sa, e);
  }
  return e;
}

/** Writes the engine's replay counters back into the SAD entry (x->replay / x->replay_esn). */
export function syncReplay(sa: XfrmSA, e: EspSa): void {
  const w = e.replay;
  if (sa.replayEsn) {
    sa.replayEsn.seq = w.seq >>> 0;
    sa.replayEsn.seqHi = w.seqHi >>> 0;
    sa.replayEsn.oseq = w.oseq >>> 0;
    sa.replayEsn.oseqHi = w.oseqHi >>> 0;
  } else {
    sa.replay.seq = w.seq >>> 0;
    sa.replay.oseq = w.oseq >>> 0;
  }
}

/**
 * The received-packets bitmap in the SAD entry's own format: the legacy
 * struct xfrm_replay_state has bit k for `seq - k`; the ESN bitmap has bit
 * (s mod bmp_len*32) for sequence number s (xfrm_replay_check_esn()).
 * Written when the host is saved (a 4096-bit window is too long to copy per packet).
 */
function storeBitmap(sa: XfrmSA, e: EspSa): void {
  const w = e.replay;
  if (w.window === 0 || w.seq === 0) return;
  if (sa.replayEsn) {
    const r = sa.replayEsn;
    const bits = r.bmpLen * 32;
    if (bits === 0) return;
    r.bmp = new Array<number>(r.bmpLen).fill(0);
    for (let d = 0; d < Math.min(w.window, bits) && d < w.seq; d++) {
      const s = w.seq - d;
      if (w.testBit(s)) { const i = s % bits; r.bmp[i >>> 5] = (r.bmp[i >>> 5]! | (1 << (i & 31))) >>> 0; }
    }
    return;
  }
  let bm = 0;
  for (let k = 0; k < Math.min(w.window, 32) && k < w.seq; k++) if (w.testBit(w.seq - k)) bm |= 1 << k;
  sa.replay.bitmap = bm >>> 0;
}

/** The inverse of storeBitmap: marks the saved sequence numbers received again. */
function restoreBitmap(sa: XfrmSA, e: EspSa): void {
  const w = e.replay;
  if (w.window === 0 || w.seq === 0) return;
  const top = w.seq, hi = w.seqHi;
  if (sa.replayEsn) {
    const r = sa.replayEsn;
    const bits = r.bmpLen * 32;
    for (let d = Math.min(w.window, bits) - 1; d >= 0; d--) {
      if (d >= top) continue;
      const s = top - d, i = s % bits;
      if (((r.bmp[i >>> 5] ?? 0) >>> (i & 31)) & 1) w.advance(s, hi);
    }
    return;
  }
  for (let k = Math.min(w.window, 32) - 1; k >= 0; k--) if (k < top && (sa.replay.bitmap >>> k) & 1) w.advance(top - k, hi);
}
