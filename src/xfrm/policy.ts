/**
 * Security policies (struct xfrm_policy) with their templates (struct
 * xfrm_tmpl), and the checks of verify_newpolicy_info(), verify_policy_dir(),
 * verify_policy_type() and validate_tmpl() of net/xfrm/xfrm_user.c.
 */
import {
  AF_INET,
  AF_INET6,
  IPPROTO_AH,
  IPPROTO_COMP,
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_ROUTING,
  IPSEC_PROTO_ANY,
  XFRM_MAX_DEPTH,
  XFRM_MODE_BEET,
  XFRM_MODE_IPTFS,
  XFRM_MODE_MAX,
  XFRM_MODE_TUNNEL,
  XFRM_POLICY_ALLOW,
  XFRM_POLICY_BLOCK,
  XFRM_POLICY_FWD,
  XFRM_POLICY_IN,
  XFRM_POLICY_MAX,
  XFRM_POLICY_OUT,
  XFRM_POLICY_TYPE_MAIN,
  XFRM_POLICY_TYPE_SUB,
} from './constants.js';
import { XfrmError } from './errors.js';
import type { XfrmAddress } from './addr.js';
import type { XfrmSelector } from './selector.js';
import type { XfrmLifetimeCfg, XfrmLifetimeCur, XfrmMark } from './state.js';

/** struct xfrm_user_tmpl / xfrm_tmpl. */
export interface XfrmTmpl {
  /** Address family of the SA this template asks for (tmpl->encap_family). */
  family: number;
  daddr: XfrmAddress;
  saddr: XfrmAddress;
  /** Host order; 0 = any. */
  spi: number;
  proto: number;
  mode: number;
  /** 0 = any. */
  reqid: number;
  /** 1 = `level use` (optional), 0 = `level required`. */
  optional: number;
  share: number;
  aalgos: number;
  ealgos: number;
  calgos: number;
}

export interface XfrmPolicy {
  sel: XfrmSelector;
  /** XFRM_POLICY_IN/OUT/FWD; socket policies keep the plain direction and `socket` true. */
  dir: number;
  action: number;
  priority: number;
  index: number;
  flags: number;
  share: number;
  /** XFRM_POLICY_TYPE_MAIN or _SUB. */
  type: number;
  mark: XfrmMark;
  ifId: number;
  tmpls: XfrmTmpl[];
  lft: XfrmLifetimeCfg;
  curlft: XfrmLifetimeCur;
  ctx: string | null;
  /** Socket policies are not in the SPD; listed as `socket in|out`. */
  socket: boolean;
  /** The owner of a socket policy (the library user's socket handle). */
  sockId: string | null;
  /** Insertion order, used to break priority ties as the kernel's pos does. */
  pos: number;
  dying: boolean;
}

/** What `ip xfrm policy add` sends (struct xfrm_userpolicy_info + attributes). */
export interface PolicyConfig {
  sel: XfrmSelector;
  dir: number;
  action: number;
  priority: number;
  index: number;
  flags: number;
  share?: number;
  type?: number;
  mark?: XfrmMark;
  ifId?: number;
  tmpls: XfrmTmpl[];
  lft: XfrmLifetimeCfg;
  ctx?: string;
}

/** xfrm_policy_id2dir(): the direction lives in the low 3 bits of the index. */
export function policyIdToDir(index: number): number {
  return index & 7;
}

/** verify_policy_dir(). */
export function verifyPolicyDir(dir: number): void {
  if (dir !== XFRM_POLICY_IN && dir !== XFRM_POLICY_OUT && dir !== XFRM_POLICY_FWD)
    throw new XfrmError('EINVAL', 'Invalid policy direction');
}

/** verify_policy_type(). */
export function verifyPolicyType(type: number): void {
  if (type !== XFRM_POLICY_TYPE_MAIN && type !== XFRM_POLICY_TYPE_SUB)
    throw new XfrmError('EINVAL', 'Invalid policy type');
}

/** verify_newpolicy_info(). */
export function verifyNewPolicy(p: PolicyConfig): void {
  if ((p.share ?? 0) > 3) throw new XfrmError('EINVAL', 'Invalid policy share');
  if (p.action !== XFRM_POLICY_ALLOW && p.action !== XFRM_POLICY_BLOCK)
    throw new XfrmError('EINVAL', 'Invalid policy action');
  switch (p.sel.family) {
    case AF_INET:
      if (p.sel.prefixlenD > 32 || p.sel.prefixlenS > 32)
        throw new XfrmError('EINVAL', 'Invalid prefix length in selector (must be <= 32 for IPv4)');
      break;
    case AF_INET6:
      if (p.sel.prefixlenD > 128 || p.sel.prefixlenS > 128)
        throw new XfrmError('EINVAL', 'Invalid prefix length in selector (must be <= 128 for IPv6)');
      break;
    default:
      throw new XfrmError('EINVAL', 'Invalid selector family');
  }
  verifyPolicyDir(p.dir);
  if (p.index && policyIdToDir(p.index) !== p.dir)
    throw new XfrmError('EINVAL', "Policy index doesn't match direction");
}

function protoValid(proto: number): boolean {
  // xfrm_id_proto_valid()
  return (
    proto === IPPROTO_ESP ||
    proto === IPPROTO_AH ||
    proto === IPPROTO_COMP ||
    proto === IPPROTO_ROUTING ||
    proto === IPPROTO_DSTOPTS ||
    proto === IPSEC_PROTO_ANY
  );
}

/**
 * validate_tmpl(): at most XFRM_MAX_DEPTH templates; a template without a
 * family inherits the policy's; optional tunnel templates make no sense on
 * output; a transport template cannot change family.
 */
export function validateTemplates(tmpls: XfrmTmpl[], family: number, dir: number): void {
  if (tmpls.length > XFRM_MAX_DEPTH)
    throw new XfrmError('EINVAL', `Template count must be <= XFRM_MAX_DEPTH (${XFRM_MAX_DEPTH})`);
  let prevFamily = family;
  for (const t of tmpls) {
    if (!t.family) t.family = family;
    switch (t.mode) {
      case XFRM_MODE_TUNNEL:
      case XFRM_MODE_BEET:
        if (t.optional && dir === XFRM_POLICY_OUT)
          throw new XfrmError('EINVAL', 'Mode in optional template not allowed in outbound policy');
        break;
      case XFRM_MODE_IPTFS:
        break;
      default:
        if (t.family !== prevFamily)
          throw new XfrmError('EINVAL', "Mode in template doesn't support a family change");
        break;
    }
    if (t.mode >= XFRM_MODE_MAX)
      throw new XfrmError('EINVAL', `Mode in template must be < XFRM_MODE_MAX (${XFRM_MODE_MAX})`);
    prevFamily = t.family;
    if (t.family !== AF_INET && t.family !== AF_INET6) throw new XfrmError('EINVAL', 'Invalid family in template');
    if (!protoValid(t.proto)) throw new XfrmError('EINVAL', 'Invalid XFRM protocol in template');
  }
}

export function isSocketDir(dir: number): boolean {
  return dir >= XFRM_POLICY_MAX;
}
