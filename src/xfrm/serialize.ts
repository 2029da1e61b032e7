/**
 * Plain-JSON form of a netns's xfrm state, so a host can be saved between CLI
 * commands. Keys are stored as hex (the saved host file holds secrets exactly
 * as the kernel's SAD does; protect the file). u64 limits use "inf" for XFRM_INF.
 */
import { addrFromJson, addrToJson } from './addr.js';
import { selectorFromJson, selectorToJson, type SelectorJson } from './selector.js';
import { XFRM_INF } from './constants.js';
import { defaultIptfsOptions } from './esp/iptfs/options.js';
import { Xfrm, type DefaultAction, type XfrmOptions } from './xfrm.js';
import type { XfrmLifetimeCfg, XfrmSA } from './state.js';
import type { XfrmPolicy, XfrmTmpl } from './policy.js';

export const XFRM_JSON_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface XfrmJson {
  version: number;
  possibleCpus: number;
  acqExpires: number;
  larvalDrop: boolean;
  policyDefault: { in: DefaultAction; fwd: DefaultAction; out: DefaultAction };
  acqSeq: number;
  idxGenerator: number;
  posCounter: number;
  stats: Record<string, number>;
  /** Newest first, as listed. */
  states: Record<string, Json>[];
  policies: Record<string, Json>[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

function lftToJson(l: XfrmLifetimeCfg): Record<string, Json> {
  const o: Record<string, Json> = {};
  for (const [k, v] of Object.entries(l)) o[k] = v === XFRM_INF ? 'inf' : v;
  return o;
}
function lftFromJson(o: Record<string, Json>): XfrmLifetimeCfg {
  const l: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) l[k] = v === 'inf' ? XFRM_INF : Number(v);
  return l as unknown as XfrmLifetimeCfg;
}

function saToJson(sa: XfrmSA): Record<string, Json> {
  return {
    ...(sa as unknown as Record<string, Json>),
    daddr: addrToJson(sa.daddr),
    saddr: addrToJson(sa.saddr),
    replay: { ...sa.replay },
    replayEsn: sa.replayEsn ? { ...sa.replayEsn, bmp: [...sa.replayEsn.bmp] } : null,
    aead: sa.aead ? { name: sa.aead.name, key: hex(sa.aead.key), icvBits: sa.aead.icvBits } : null,
    auth: sa.auth ? { name: sa.auth.name, key: hex(sa.auth.key), truncBits: sa.auth.truncBits } : null,
    enc: sa.enc ? { name: sa.enc.name, key: hex(sa.enc.key) } : null,
    comp: sa.comp ? { ...sa.comp } : null,
    encap: sa.encap ? { ...sa.encap, oa: addrToJson(sa.encap.oa) } : null,
    coaddr: sa.coaddr ? addrToJson(sa.coaddr) : null,
    sel: selectorToJson(sa.sel) as unknown as Json,
    lft: lftToJson(sa.lft),
    curlft: { ...sa.curlft },
    stats: { ...sa.stats },
    mark: { ...sa.mark },
    smark: { ...sa.smark },
    ...(sa.iptfs ? { iptfs: { ...sa.iptfs } } : {}),
  };
}

function saFromJson(o: Record<string, any>): XfrmSA {
  return {
    ...o,
    daddr: addrFromJson(o.daddr),
    saddr: addrFromJson(o.saddr),
    replay: { ...o.replay },
    replayEsn: o.replayEsn ? { ...o.replayEsn, bmp: [...o.replayEsn.bmp] } : null,
    aead: o.aead ? { ...o.aead, key: unhex(o.aead.key) } : null,
    auth: o.auth ? { ...o.auth, key: unhex(o.auth.key) } : null,
    enc: o.enc ? { ...o.enc, key: unhex(o.enc.key) } : null,
    comp: o.comp ? { ...o.comp } : null,
    encap: o.encap ? { ...o.encap, oa: addrFromJson(o.encap.oa) } : null,
    coaddr: o.coaddr ? addrFromJson(o.coaddr) : null,
    sel: selectorFromJson(o.sel as SelectorJson),
    lft: lftFromJson(o.lft),
    curlft: { ...o.curlft },
    stats: { ...o.stats },
    mark: { ...o.mark },
    smark: { ...o.smark },
    // mode iptfs: options saved before a field existed take the kernel's default.
    ...(o.iptfs ? { iptfs: { ...defaultIptfsOptions(), ...o.iptfs } } : {}),
  } as XfrmSA;
}

function tmplToJson(t: XfrmTmpl): Record<string, Json> {
  return { ...(t as unknown as Record<string, Json>), daddr: addrToJson(t.daddr), saddr: addrToJson(t.saddr) };
}

function policyToJson(p: XfrmPolicy): Record<string, Json> {
  return {
    ...(p as unknown as Record<string, Json>),
    sel: selectorToJson(p.sel) as unknown as Json,
    mark: { ...p.mark },
    tmpls: p.tmpls.map(tmplToJson),
    lft: lftToJson(p.lft),
    curlft: { ...p.curlft },
  };
}

function policyFromJson(o: Record<string, any>): XfrmPolicy {
  return {
    ...o,
    sel: selectorFromJson(o.sel),
    mark: { ...o.mark },
    tmpls: (o.tmpls as Record<string, any>[]).map(
      (t) => ({ ...t, daddr: addrFromJson(t.daddr), saddr: addrFromJson(t.saddr) }) as XfrmTmpl,
    ),
    lft: lftFromJson(o.lft),
    curlft: { ...o.curlft },
  } as XfrmPolicy;
}

/** The whole xfrm state of a host as plain JSON (no class instances, no typed arrays). */
export function serializeXfrm(x: Xfrm): XfrmJson {
  return {
    version: XFRM_JSON_VERSION,
    possibleCpus: x.possibleCpus,
    acqExpires: x.acqExpires,
    larvalDrop: x.larvalDrop,
    policyDefault: { ...x.policyDefault },
    acqSeq: x.acqSeq,
    idxGenerator: x.spd.idxGenerator,
    posCounter: x.spd.posCounter,
    stats: x.stats.toJSON(),
    states: x.sad.states.map(saToJson),
    policies: x.spd.policies.map(policyToJson),
  };
}

/** Rebuilds the state saved by serializeXfrm. The clock is the caller's. */
export function deserializeXfrm(j: XfrmJson, opts: XfrmOptions = {}): Xfrm {
  if (j.version !== XFRM_JSON_VERSION) throw new Error(`xfrm state version ${j.version} is not supported`);
  const x = new Xfrm({ ...opts, possibleCpus: j.possibleCpus, acqExpires: j.acqExpires, larvalDrop: j.larvalDrop });
  x.policyDefault = { ...j.policyDefault };
  x.acqSeq = j.acqSeq;
  x.spd.idxGenerator = j.idxGenerator;
  x.spd.posCounter = j.posCounter;
  x.stats.load(j.stats);
  x.sad.states = j.states.map((s) => saFromJson(s));
  x.spd.policies = j.policies.map((p) => policyFromJson(p));
  return x;
}
