/**
 * One nft invocation's batch of netlink messages (NFT_MSG_NEWxxx / NFT_MSG_DELxxx), as
 * plain serialisable data. Field names follow the NFTA_* attributes; the
 * NLM_F_* flags that change their meaning are booleans:
 * - `excl` (NLM_F_EXCL): `create`/`insert` semantics — EEXIST if it exists;
 * - `append` (NLM_F_APPEND) on newrule: `add rule` (append, or after `position`);
 *   without it `insert rule` (at the start, or before `position`);
 * - `replace` (NLM_F_REPLACE) on newrule: `replace rule ... handle N`;
 * - `destroy` on del*: NFT_MSG_DESTROY* — no ENOENT when absent.
 * Families are NFPROTO_* numbers: inet 1, ip 2, arp 3, netdev 5, bridge 7, ip6 10.
 */
import type { Rule, SetDescriptor, SetElement, Expr } from './bytecode.js';

export interface ChainHookSpec {
  /** NF_INET_* / NF_NETDEV_* / NF_ARP_* hook number. */
  hooknum: number;
  priority: number;
  /** netdev (and inet ingress) device names. */
  devices?: string[];
}

export type BatchOp =
  | { op: 'newtable'; family: number; table: string; flags?: number; excl?: boolean; comment?: string }
  /** Without `table` and `handle`: every table of `family` (0 = all families), as `flush ruleset`. */
  | { op: 'deltable'; family: number; table?: string; handle?: number; destroy?: boolean }
  | {
    op: 'newchain'; family: number; table: string; chain: string; excl?: boolean;
    /** Base chain: hook, `type` (filter/nat/route) and policy (NF_ACCEPT 1 / NF_DROP 0). */
    hook?: ChainHookSpec; type?: string; policy?: number; comment?: string;
    /**
     * NFT_CHAIN_BINDING etc. A `chain` name containing `%d` (`__chain%d`) creates a binding
     * chain (`jump { ... }`) named by the kernel; rules and verdicts that say `__chain%d` later in
     * the batch mean the binding chain created last.
     */
    flags?: number;
    /** Rename: chain `handle` gets the name `chain`. */
    handle?: number;
  }
  | { op: 'delchain'; family: number; table: string; chain?: string; handle?: number; destroy?: boolean }
  | {
    op: 'newrule'; family: number; table: string; chain: string; rule: Rule;
    append?: boolean; replace?: boolean;
    /** Handle of the rule to insert before/after (NFTA_RULE_POSITION) or to replace (NFTA_RULE_HANDLE). */
    position?: number;
  }
  /** Without `chain`: flush every chain of the table; without `handle`: flush the chain. */
  | { op: 'delrule'; family: number; table: string; chain?: string; handle?: number; destroy?: boolean }
  | { op: 'newset'; family: number; set: SetDescriptor; excl?: boolean }
  | { op: 'delset'; family: number; table: string; set?: string; handle?: number; destroy?: boolean }
  | { op: 'newsetelem'; family: number; table: string; set: string; setId?: number; elements: SetElement[]; excl?: boolean }
  /** Without `elements`: flush the set. */
  | { op: 'delsetelem'; family: number; table: string; set: string; elements?: SetElement[]; destroy?: boolean }
  | {
    op: 'newobj'; family: number; table: string; name: string; objType: number; excl?: boolean;
    /** State of counter/quota/limit/connlimit/synproxy objects, in the expression's shape. */
    expr?: Expr;
    data?: Record<string, unknown>;
    comment?: string;
  }
  | { op: 'delobj'; family: number; table: string; name?: string; objType: number; handle?: number; destroy?: boolean }
  | {
    op: 'newflowtable'; family: number; table: string; name: string; excl?: boolean;
    hooknum?: number; priority?: number; devices?: string[]; flags?: number;
  }
  | { op: 'delflowtable'; family: number; table: string; name?: string; handle?: number; destroy?: boolean };

export type Batch = BatchOp[];

/** NFPROTO_* numbers and names. */
export const NFPROTO = { UNSPEC: 0, INET: 1, IPV4: 2, ARP: 3, NETDEV: 5, BRIDGE: 7, IPV6: 10 } as const;
export const FAMILY_NAME: Readonly<Record<number, string>> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };
