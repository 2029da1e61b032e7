/**
 * IPsec policies and SAs in words, for `why` and the demo: what rule text is
 * to an nf_tables drop, the policy line is to an xfrm drop. The wording
 * follows `ip xfrm policy` (selector, dir, priority, action, templates) in
 * one line.
 */
import type { XfrmPolicy, XfrmSA, XfrmTmpl } from '../../xfrm/index.js';
import { AF_INET6, XFRM_POLICY_ALLOW, formatAddress } from '../../xfrm/index.js';

const MODES = ['transport', 'tunnel', 'ro', 'in_trigger', 'beet', 'iptfs'];
const DIRS = ['in', 'out', 'fwd'];
const PROTOS: Record<number, string> = { 50: 'esp', 51: 'ah', 108: 'comp', 255: 'any' };

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }

function prefix(family: number, a: Uint8Array, len: number): string {
  return `${formatAddress(family, a)}/${len}`;
}

/** A template: `esp tunnel 203.0.113.2 > 203.0.113.30 reqid 1`. */
export function tmplText(t: XfrmTmpl): string {
  const proto = PROTOS[t.proto] ?? String(t.proto);
  const mode = MODES[t.mode] ?? String(t.mode);
  const ends = t.mode === 0 ? '' : ` ${formatAddress(t.family, t.saddr)} > ${formatAddress(t.family, t.daddr)}`;
  return `${proto} ${mode}${ends}${t.reqid ? ` reqid ${t.reqid}` : ''}${t.spi ? ` spi ${hex(t.spi)}` : ''}${t.optional ? ' level use' : ''}`;
}

/** One policy in `ip xfrm policy` words: `src … dst … dir fwd priority 1000 action block`. */
export function policyText(pol: XfrmPolicy): string {
  const s = pol.sel;
  const fam = s.family === AF_INET6 ? AF_INET6 : 2;
  let t = `src ${prefix(fam, s.saddr, s.prefixlenS)} dst ${prefix(fam, s.daddr, s.prefixlenD)}`;
  if (s.proto) t += ` proto ${s.proto}`;
  if (s.sportMask) t += ` sport ${s.sport}`;
  if (s.dportMask) t += ` dport ${s.dport}`;
  t += ` dir ${DIRS[pol.dir] ?? pol.dir} priority ${pol.priority}`;
  if (pol.ifId) t += ` if_id ${pol.ifId}`;
  if (pol.action !== XFRM_POLICY_ALLOW) t += ' action block';
  for (const tm of pol.tmpls) t += ` tmpl ${tmplText(tm)}`;
  return t;
}

/** `policy index 42 (src … dst … dir fwd …)`, or the socket's policy. */
export function policyRef(pol: XfrmPolicy): string {
  if (pol.socket) return `the socket policy of ${pol.sockId ?? '?'} (${policyText(pol)})`;
  return `policy index ${pol.index} (${policyText(pol)})`;
}

/** An SA in a few words: `SA 0x00001001 (esp tunnel 203.0.113.2 > 203.0.113.30 reqid 1)`. */
export function saRef(sa: XfrmSA): string {
  const mode = MODES[sa.mode] ?? String(sa.mode);
  const ends = sa.mode === 0 ? '' : ` ${formatAddress(sa.family, sa.saddr)} > ${formatAddress(sa.family, sa.daddr)}`;
  return `SA ${hex(sa.spi)} (esp ${mode}${ends} reqid ${sa.reqid})`;
}
