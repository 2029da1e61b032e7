/**
 * The NETLINK_XFRM messages Linux multicasts for xfrm events, byte for byte
 * (x86-64 layouts of include/uapi/linux/xfrm.h; the builders of
 * net/xfrm/xfrm_user.c: copy_to_user_state + copy_to_user_state_extra,
 * build_expire, copy_to_user_policy + copy_to_user_tmpl, build_acquire,
 * build_mapping, the flush notifications). Used to hand events to software
 * that speaks netlink — and by our tests, which feed them to iproute2's
 * `ip xfrm monitor file` to check our printer against iproute2's.
 */
import type { XfrmEvent } from './events.js';
import type { XfrmPolicy, XfrmTmpl } from './policy.js';
import type { XfrmSelector } from './selector.js';
import type { XfrmLifetimeCfg, XfrmLifetimeCur, XfrmSA } from './state.js';
import { XFRM_POLICY_MAX } from './constants.js';

// enum xfrm_msg_type
export const XFRM_MSG_NEWSA = 0x10;
export const XFRM_MSG_DELSA = 0x11;
export const XFRM_MSG_NEWPOLICY = 0x13;
export const XFRM_MSG_DELPOLICY = 0x14;
export const XFRM_MSG_ACQUIRE = 0x17;
export const XFRM_MSG_EXPIRE = 0x18;
export const XFRM_MSG_UPDPOLICY = 0x19;
export const XFRM_MSG_UPDSA = 0x1a;
export const XFRM_MSG_POLEXPIRE = 0x1b;
export const XFRM_MSG_FLUSHSA = 0x1c;
export const XFRM_MSG_FLUSHPOLICY = 0x1d;
export const XFRM_MSG_MAPPING = 0x26;
export const XFRM_MSG_GETDEFAULT = 0x28;

// enum xfrm_attr_type_t
const XFRMA_ALG_AUTH = 1;
const XFRMA_ALG_CRYPT = 2;
const XFRMA_ALG_COMP = 3;
const XFRMA_ENCAP = 4;
const XFRMA_TMPL = 5;
const XFRMA_SA = 6;
const XFRMA_POLICY = 7;
const XFRMA_COADDR = 14;
const XFRMA_LASTUSED = 15;
const XFRMA_POLICY_TYPE = 16;
const XFRMA_ALG_AEAD = 18;
const XFRMA_ALG_AUTH_TRUNC = 20;
const XFRMA_MARK = 21;
const XFRMA_TFCPAD = 22;
const XFRMA_REPLAY_VAL = 10;
const XFRMA_REPLAY_ESN_VAL = 23;
const XFRMA_SA_EXTRA_FLAGS = 24;
const XFRMA_SET_MARK = 29;
const XFRMA_SET_MARK_MASK = 30;
const XFRMA_IF_ID = 31;
const XFRMA_SA_DIR = 33;
const XFRMA_SA_PCPU = 35;

const SIZEOF_USERSA_INFO = 224;
const SIZEOF_USERPOLICY_INFO = 168;
const SIZEOF_USER_TMPL = 64;
const U64_MAX = (1n << 64n) - 1n;

const align4 = (n: number): number => (n + 3) & ~3;

/** A growable little-endian writer (the host order of the x86-64 structs). */
class W {
  buf = new Uint8Array(512);
  view = new DataView(this.buf.buffer);
  len = 0;
  private need(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    b.set(this.buf);
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  zeros(n: number): number {
    this.need(n);
    const at = this.len;
    this.buf.fill(0, at, at + n);
    this.len += n;
    return at;
  }
  bytes(b: Uint8Array): void {
    this.need(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  u8(at: number, v: number): void {
    this.view.setUint8(at, v);
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  be16(at: number, v: number): void {
    this.view.setUint16(at, v, false);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  be32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, false);
  }
  u64(at: number, v: number): void {
    this.view.setBigUint64(at, Number.isFinite(v) ? BigInt(Math.trunc(v)) : U64_MAX, true);
  }
  addr(at: number, a: Uint8Array): void {
    this.buf.set(a.subarray(0, 16), at);
  }
  /** One netlink attribute, padded to 4 bytes. */
  attr(type: number, payload: (w: W, at: number) => void, len: number): void {
    const at = this.zeros(align4(4 + len));
    this.u16(at, 4 + len);
    this.u16(at + 2, type);
    payload(this, at + 4);
  }
  u32attr(type: number, v: number): void {
    this.attr(type, (w, at) => w.u32(at, v), 4);
  }
}

function selector(w: W, at: number, s: XfrmSelector): void {
  w.addr(at, s.daddr);
  w.addr(at + 16, s.saddr);
  w.be16(at + 32, s.dport);
  w.be16(at + 34, s.dportMask);
  w.be16(at + 36, s.sport);
  w.be16(at + 38, s.sportMask);
  w.u16(at + 40, s.family);
  w.u8(at + 42, s.prefixlenD);
  w.u8(at + 43, s.prefixlenS);
  w.u8(at + 44, s.proto);
  w.u32(at + 48, s.ifindex);
  w.u32(at + 52, s.user);
}

function lifetimes(w: W, at: number, l: XfrmLifetimeCfg, c: XfrmLifetimeCur): void {
  w.u64(at, l.softByteLimit);
  w.u64(at + 8, l.hardByteLimit);
  w.u64(at + 16, l.softPacketLimit);
  w.u64(at + 24, l.hardPacketLimit);
  w.u64(at + 32, l.softAddExpiresSeconds);
  w.u64(at + 40, l.hardAddExpiresSeconds);
  w.u64(at + 48, l.softUseExpiresSeconds);
  w.u64(at + 56, l.hardUseExpiresSeconds);
  w.u64(at + 64, c.bytes);
  w.u64(at + 72, c.packets);
  w.u64(at + 80, c.addTime);
  w.u64(at + 88, c.useTime);
}

/** copy_to_user_state(): struct xfrm_usersa_info. */
function usersaInfo(w: W, at: number, x: XfrmSA): void {
  selector(w, at, x.sel);
  w.addr(at + 56, x.daddr);
  w.be32(at + 72, x.spi);
  w.u8(at + 76, x.proto);
  w.addr(at + 80, x.saddr);
  lifetimes(w, at + 96, x.lft, x.curlft);
  w.u32(at + 192, x.stats.replayWindow);
  w.u32(at + 196, x.stats.replay);
  w.u32(at + 200, x.stats.integrityFailed);
  w.u32(at + 204, x.seq);
  w.u32(at + 208, x.reqid);
  w.u16(at + 212, x.family);
  w.u8(at + 214, x.mode);
  w.u8(at + 215, x.replayWindow);
  w.u8(at + 216, x.flags);
}

function algo(w: W, type: number, name: string, key: Uint8Array, extra?: number): void {
  const head = extra === undefined ? 68 : 72;
  w.attr(
    type,
    (w2, at) => {
      w2.buf.set(new TextEncoder().encode(name).subarray(0, 63), at);
      w2.u32(at + 64, key.length * 8);
      if (extra !== undefined) w2.u32(at + 68, extra);
      w2.buf.set(key, at + head);
    },
    head + key.length,
  );
}

/** copy_to_user_state_extra(): the attributes after struct xfrm_usersa_info. */
function stateExtra(w: W, x: XfrmSA): void {
  if (x.extraFlags) w.u32attr(XFRMA_SA_EXTRA_FLAGS, x.extraFlags);
  if (x.coaddr) w.attr(XFRMA_COADDR, (w2, at) => w2.addr(at, x.coaddr!), 16);
  if (x.lastused) w.attr(XFRMA_LASTUSED, (w2, at) => w2.u64(at, x.lastused), 8);
  if (x.aead) algo(w, XFRMA_ALG_AEAD, x.aead.name, x.aead.key, x.aead.icvBits);
  if (x.auth) {
    algo(w, XFRMA_ALG_AUTH, x.auth.name, x.auth.key);
    algo(w, XFRMA_ALG_AUTH_TRUNC, x.auth.name, x.auth.key, x.auth.truncBits);
  }
  if (x.enc) algo(w, XFRMA_ALG_CRYPT, x.enc.name, x.enc.key);
  if (x.comp) algo(w, XFRMA_ALG_COMP, x.comp.name, new Uint8Array(0));
  if (x.encap) {
    const e = x.encap;
    w.attr(
      XFRMA_ENCAP,
      (w2, at) => {
        w2.u16(at, e.type);
        w2.be16(at + 2, e.sport);
        w2.be16(at + 4, e.dport);
        w2.addr(at + 8, e.oa);
      },
      24,
    );
  }
  if (x.tfcpad) w.u32attr(XFRMA_TFCPAD, x.tfcpad);
  markAttr(w, x.mark);
  if (x.smark.v || x.smark.m) {
    w.u32attr(XFRMA_SET_MARK, x.smark.v);
    w.u32attr(XFRMA_SET_MARK_MASK, x.smark.m);
  }
  const r = x.replayEsn;
  if (r) {
    w.attr(
      XFRMA_REPLAY_ESN_VAL,
      (w2, at) => {
        w2.u32(at, r.bmpLen);
        w2.u32(at + 4, r.oseq);
        w2.u32(at + 8, r.seq);
        w2.u32(at + 12, r.oseqHi);
        w2.u32(at + 16, r.seqHi);
        w2.u32(at + 20, r.replayWindow);
        for (let i = 0; i < r.bmpLen; i++) w2.u32(at + 24 + 4 * i, r.bmp[i] ?? 0);
      },
      24 + 4 * r.bmpLen,
    );
  } else {
    w.attr(
      XFRMA_REPLAY_VAL,
      // struct xfrm_replay_state { oseq; seq; bitmap; }
      (w2, at) => {
        w2.u32(at, x.replay.oseq);
        w2.u32(at + 4, x.replay.seq);
        w2.u32(at + 8, x.replay.bitmap);
      },
      12,
    );
  }
  if (x.ifId) w.u32attr(XFRMA_IF_ID, x.ifId);
  if (x.dir) w.attr(XFRMA_SA_DIR, (w2, at) => w2.u8(at, x.dir), 1);
  if (x.pcpuNum !== 0xffffffff) w.u32attr(XFRMA_SA_PCPU, x.pcpuNum);
}

function markAttr(w: W, m: { v: number; m: number }): void {
  if (m.v || m.m)
    w.attr(
      XFRMA_MARK,
      (w2, at) => {
        w2.u32(at, m.v);
        w2.u32(at + 4, m.m);
      },
      8,
    );
}

/** copy_to_user_policy(): struct xfrm_userpolicy_info; socket policies report dir + XFRM_POLICY_MAX. */
function userpolicyInfo(w: W, at: number, p: XfrmPolicy): void {
  selector(w, at, p.sel);
  lifetimes(w, at + 56, p.lft, p.curlft);
  w.u32(at + 152, p.priority);
  w.u32(at + 156, p.index);
  w.u8(at + 160, p.socket ? p.dir + XFRM_POLICY_MAX : p.dir);
  w.u8(at + 161, p.action);
  w.u8(at + 162, p.flags);
  w.u8(at + 163, p.share);
}

function tmplAttr(w: W, tmpls: readonly XfrmTmpl[]): void {
  if (!tmpls.length) return;
  w.attr(
    XFRMA_TMPL,
    (w2, base) => {
      tmpls.forEach((t, i) => {
        const at = base + i * SIZEOF_USER_TMPL;
        w2.addr(at, t.daddr);
        w2.be32(at + 16, t.spi);
        w2.u8(at + 20, t.proto);
        w2.u16(at + 24, t.family);
        w2.addr(at + 28, t.saddr);
        w2.u32(at + 44, t.reqid);
        w2.u8(at + 48, t.mode);
        w2.u8(at + 49, t.share);
        w2.u8(at + 50, t.optional);
        w2.u32(at + 52, t.aalgos);
        w2.u32(at + 56, t.ealgos);
        w2.u32(at + 60, t.calgos);
      });
    },
    tmpls.length * SIZEOF_USER_TMPL,
  );
}

/** What dump_one_policy / xfrm_notify_policy append: templates, type, mark, if_id. */
function policyExtra(w: W, p: XfrmPolicy): void {
  tmplAttr(w, p.tmpls);
  policyTypeAttr(w, p.type);
  markAttr(w, p.mark);
  if (p.ifId) w.u32attr(XFRMA_IF_ID, p.ifId);
}

function policyTypeAttr(w: W, type: number): void {
  w.attr(XFRMA_POLICY_TYPE, (w2, at) => w2.u8(at, type), 6);
}

/** Wraps a body in struct nlmsghdr. */
function message(type: number, body: (w: W) => void): Uint8Array {
  const w = new W();
  w.zeros(16);
  body(w);
  w.u32(0, w.len);
  w.u16(4, type);
  return w.buf.slice(0, w.len);
}

/** The netlink message the kernel multicasts for this event. */
export function encodeXfrmEvent(e: XfrmEvent): Uint8Array {
  switch (e.type) {
    case 'newsa':
    case 'updsa':
      return message(e.type === 'newsa' ? XFRM_MSG_NEWSA : XFRM_MSG_UPDSA, (w) => {
        usersaInfo(w, w.zeros(SIZEOF_USERSA_INFO), e.sa);
        stateExtra(w, e.sa);
      });
    case 'delsa':
      // xfrm_notify_sa(): struct xfrm_usersa_id, then the whole SA in XFRMA_SA.
      return message(XFRM_MSG_DELSA, (w) => {
        const at = w.zeros(24);
        w.addr(at, e.sa.daddr);
        w.be32(at + 16, e.sa.spi);
        w.u16(at + 20, e.sa.family);
        w.u8(at + 22, e.sa.proto);
        w.attr(XFRMA_SA, (w2, a2) => usersaInfo(w2, a2, e.sa), SIZEOF_USERSA_INFO);
        stateExtra(w, e.sa);
      });
    case 'expire':
      // build_expire(): xfrm_user_expire, then mark, if_id and dir only.
      return message(XFRM_MSG_EXPIRE, (w) => {
        const at = w.zeros(SIZEOF_USERSA_INFO + 8);
        usersaInfo(w, at, e.sa);
        w.u8(at + SIZEOF_USERSA_INFO, e.hard ? 1 : 0);
        markAttr(w, e.sa.mark);
        if (e.sa.ifId) w.u32attr(XFRMA_IF_ID, e.sa.ifId);
        if (e.sa.dir) w.attr(XFRMA_SA_DIR, (w2, a2) => w2.u8(a2, e.sa.dir), 1);
      });
    case 'flushsa':
      return message(XFRM_MSG_FLUSHSA, (w) => {
        const at = w.zeros(4);
        w.u8(at, e.proto);
      });
    case 'newpolicy':
    case 'updpolicy':
      return message(e.type === 'newpolicy' ? XFRM_MSG_NEWPOLICY : XFRM_MSG_UPDPOLICY, (w) => {
        userpolicyInfo(w, w.zeros(SIZEOF_USERPOLICY_INFO), e.policy);
        policyExtra(w, e.policy);
      });
    case 'delpolicy':
      return message(XFRM_MSG_DELPOLICY, (w) => {
        const at = w.zeros(64);
        selector(w, at, e.policy.sel);
        w.u32(at + 56, e.policy.index);
        w.u8(at + 60, e.policy.dir);
        w.attr(XFRMA_POLICY, (w2, a2) => userpolicyInfo(w2, a2, e.policy), SIZEOF_USERPOLICY_INFO);
        policyExtra(w, e.policy);
      });
    case 'polexpire':
      return message(XFRM_MSG_POLEXPIRE, (w) => {
        const at = w.zeros(SIZEOF_USERPOLICY_INFO + 8);
        userpolicyInfo(w, at, e.policy);
        w.u8(at + SIZEOF_USERPOLICY_INFO, e.hard ? 1 : 0);
        policyExtra(w, e.policy);
      });
    case 'flushpolicy':
      return message(XFRM_MSG_FLUSHPOLICY, (w) => policyTypeAttr(w, e.ptype));
    case 'acquire':
      // build_acquire(): xfrm_user_acquire, then the policy's templates, type, mark, if_id.
      return message(XFRM_MSG_ACQUIRE, (w) => {
        const at = w.zeros(280);
        w.addr(at, e.daddr);
        w.be32(at + 16, e.spi);
        w.u8(at + 20, e.proto);
        w.addr(at + 24, e.saddr);
        selector(w, at + 40, e.sel);
        userpolicyInfo(w, at + 96, e.policy);
        w.u32(at + 264, 0xffffffff);
        w.u32(at + 268, 0xffffffff);
        w.u32(at + 272, 0xffffffff);
        w.u32(at + 276, e.seq);
        policyExtra(w, e.policy);
      });
    case 'mapping':
      return message(XFRM_MSG_MAPPING, (w) => {
        const at = w.zeros(64);
        w.addr(at, e.sa.daddr);
        w.be32(at + 16, e.sa.spi);
        w.u16(at + 20, e.sa.family);
        w.u8(at + 22, e.sa.proto);
        w.u32(at + 24, e.sa.reqid);
        w.addr(at + 28, e.oldSaddr);
        w.addr(at + 44, e.newSaddr);
        w.be16(at + 60, e.oldSport);
        w.be16(at + 62, e.newSport);
      });
    case 'policydefault':
      return message(XFRM_MSG_GETDEFAULT, (w) => {
        // struct xfrm_userpolicy_default { u8 in, fwd, out; } — XFRM_USERPOLICY_BLOCK 1, ACCEPT 2.
        const at = w.zeros(4);
        const v = (d: string): number => (d === 'block' ? 1 : 2);
        w.u8(at, v(e.in));
        w.u8(at + 1, v(e.fwd));
        w.u8(at + 2, v(e.out));
      });
  }
}
