/**
 * objref (nft_objref.c): applies a named stateful object — directly, or the
 * one an object map yields for the key in a register (a miss breaks the rule).
 */
import type { ObjrefExpr } from '../bytecode.js';
import { NFT_OBJECT, NFT_SET_OBJECT, NFT_CT } from '../bytecode.js';
import type { ExprOps, ValidateContext } from './types.js';
import { fail } from './types.js';
import { regByteOffset } from '../vm.js';
import type { Vm } from '../vm.js';
import type { NftSet } from '../set/set.js';
import type { NftObject } from '../objects.js';
import { ERRNO } from '../errors.js';
import { statefulEval } from './stateful.js';
import { synproxyHooksOk } from './synproxy.js';

export interface ObjrefP {
  obj: NftObject | undefined;
  set: NftSet | undefined;
  reg: number;
  objType: number;
  lookupObj: (name: string) => NftObject | undefined;
}

/**
 * Secmark ids by context string. nft_secmark.c resolves the object's context
 * (`secmark obj { ctx "system_u:object_r:ssh_server_packet_t:s0" }`) to an LSM
 * secid once, at object creation, and its eval sets skb->secmark to it. With
 * no LSM here, a context's id is its 1-based order of first use in this
 * process: stable for the process, the same id for the same context string.
 */
const secids = new Map<string, number>();
export function secmarkId(ctx: string): number {
  let id = secids.get(ctx);
  if (id === undefined) { id = secids.size + 1; secids.set(ctx, id); }
  return id;
}

export function objEval(o: NftObject, vm: Vm): void {
  if (o.expr) { statefulEval(o.expr, vm); return; }
  switch (o.type) {
    // nft_secmark_obj_eval: skb->secmark = priv->secid.
    case NFT_OBJECT.SECMARK: vm.pkt.meta.secmark = secmarkId(String(o.data?.['ctx'] ?? '')); break;
    case NFT_OBJECT.CT_HELPER: {
      const name = new TextEncoder().encode(String(o.data?.['type'] ?? ''));
      const tmp = new Uint8Array(16);
      tmp.set(name.subarray(0, 16));
      vm.env.host.ctStore(vm.pkt, NFT_CT.HELPER, undefined, tmp, 0, 16);
      break;
    }
    default: break;
  }
}

export const objrefOps: ExprOps<ObjrefExpr, ObjrefP> = {
  type: 'objref',
  prepare(e, b) {
    if (e.sreg !== undefined) {
      const set = b.set(e.set ?? '', e.setId);
      if (!set) fail(ERRNO.ENOENT, `set ${e.set} does not exist`);
      if (!(set.decl.flags & NFT_SET_OBJECT)) fail(ERRNO.EINVAL);
      const objType = set.decl.objType ?? 0;
      return { obj: undefined, set, reg: regByteOffset(e.sreg, set.decl.keyLen), objType, lookupObj: (n) => b.obj(objType, n) };
    }
    const obj = b.obj(e.objType ?? 0, e.name ?? '');
    if (!obj) fail(ERRNO.ENOENT, `object ${e.name} does not exist`);
    return { obj, set: undefined, reg: 0, objType: obj.type, lookupObj: () => undefined };
  },
  validate(e, v: ValidateContext) {
    // nft_objref_validate: the object type's own hook restrictions (synproxy: input/forward only).
    const t = e.objType ?? 0;
    if (t === NFT_OBJECT.SYNPROXY && !synproxyHooksOk(v)) return ERRNO.EOPNOTSUPP;
    return 0;
  },
  eval(p, vm) {
    if (p.obj) { objEval(p.obj, vm); return; }
    const el = p.set!.lookup(vm.r8, p.reg, vm.env.clock.nowMs());
    const o = el?.objref !== undefined ? p.lookupObj(el.objref) : undefined;
    if (!o) { vm.code[0] = -2; return; }
    objEval(o, vm);
  },
};
