/**
 * Key-manager notifications, as netlink multicasts them to an IKE daemon
 * (include/uapi/linux/xfrm.h, enum xfrm_nlgroups). Each event carries the
 * object itself (not a copy: the hot path allocates nothing more), so a
 * listener that prints later sees its current state, as `ip xfrm monitor`
 * replaying the log does.
 */
import type { XfrmAddress } from './addr.js';
import type { XfrmPolicy, XfrmTmpl } from './policy.js';
import type { XfrmSelector } from './selector.js';
import type { XfrmSA } from './state.js';

/** XFRMNLGRP_* multicast groups. */
export type XfrmGroup = 'acquire' | 'expire' | 'sa' | 'policy' | 'aevents' | 'report' | 'mapping';

export type XfrmEvent =
  /** XFRM_MSG_NEWSA / UPDSA / DELSA (group SA). */
  | { type: 'newsa' | 'updsa' | 'delsa'; sa: XfrmSA }
  /** XFRM_MSG_EXPIRE (group EXPIRE): hard = the SA is gone; soft = rekey now. */
  | { type: 'expire'; sa: XfrmSA; hard: boolean }
  /** XFRM_MSG_FLUSHSA (group SA). */
  | { type: 'flushsa'; proto: number }
  /** XFRM_MSG_NEWPOLICY / UPDPOLICY / DELPOLICY (group POLICY). */
  | { type: 'newpolicy' | 'updpolicy' | 'delpolicy'; policy: XfrmPolicy }
  /** XFRM_MSG_POLEXPIRE (group EXPIRE). */
  | { type: 'polexpire'; policy: XfrmPolicy; hard: boolean }
  /** XFRM_MSG_FLUSHPOLICY (group POLICY). */
  | { type: 'flushpolicy'; ptype: number }
  /** XFRM_MSG_GETDEFAULT sent after a change of default policies (group POLICY). */
  | { type: 'policydefault'; in: 'accept' | 'block'; fwd: 'accept' | 'block'; out: 'accept' | 'block' }
  /**
   * XFRM_MSG_ACQUIRE (group ACQUIRE): no SA for a template. `sel` is the
   * larval SA's selector (the exact flow), `id` the wanted SA.
   */
  | {
      type: 'acquire';
      family: number;
      daddr: XfrmAddress;
      saddr: XfrmAddress;
      proto: number;
      spi: number;
      sel: XfrmSelector;
      policy: XfrmPolicy;
      tmpl: XfrmTmpl;
      seq: number;
    }
  /** XFRM_MSG_MAPPING (group MAPPING): the peer's NAT-T address or port changed. */
  | {
      type: 'mapping';
      sa: XfrmSA;
      oldSaddr: XfrmAddress;
      oldSport: number;
      newSaddr: XfrmAddress;
      newSport: number;
    };

export function eventGroup(e: XfrmEvent): XfrmGroup {
  switch (e.type) {
    case 'acquire':
      return 'acquire';
    case 'expire':
    case 'polexpire':
      return 'expire';
    case 'newpolicy':
    case 'updpolicy':
    case 'delpolicy':
    case 'flushpolicy':
    case 'policydefault':
      return 'policy';
    case 'mapping':
      return 'mapping';
    default:
      return 'sa';
  }
}

export type XfrmListener = (e: XfrmEvent) => void;

/** A subscription set, one per netns, like the NETLINK_XFRM multicast groups. */
export class XfrmEventBus {
  private readonly subs = new Set<{ groups: Set<XfrmGroup> | null; fn: XfrmListener }>();
  /** The most recent events, for `ip xfrm monitor` in a one-shot CLI. */
  readonly log: XfrmEvent[] = [];
  logLimit = 256;

  /** Subscribe to some groups (all when omitted); returns the unsubscribe function. */
  subscribe(fn: XfrmListener, groups?: XfrmGroup[]): () => void {
    const sub = { groups: groups ? new Set(groups) : null, fn };
    this.subs.add(sub);
    return () => this.subs.delete(sub);
  }

  /** Does anyone listen to this group? (netlink_broadcast returns -ESRCH when not.) */
  hasListeners(group: XfrmGroup): boolean {
    for (const s of this.subs) if (!s.groups || s.groups.has(group)) return true;
    return false;
  }

  emit(e: XfrmEvent): boolean {
    this.log.push(e);
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
    const g = eventGroup(e);
    let delivered = false;
    for (const s of [...this.subs]) {
      if (s.groups && !s.groups.has(g)) continue;
      delivered = true;
      s.fn(e);
    }
    return delivered;
  }
}
