/**
 * The conntrack and NAT part of HostServices for one table: what the VM's
 * ct, notrack, nat/masq/redir and connlimit expressions call. The NAT
 * expressions need the hook being run, which HostServices.nat does not pass;
 * `hookOf` supplies it (the path knows which hook it is running).
 */
import type { Packet } from '../../packet/packet.js';
import type { HostServices, NatRequest } from '../host-services.js';
import type { ConntrackTable } from '../conntrack/table.js';
import { ctLoad, ctStore, connlimitCount } from '../conntrack/keys.js';
import { notrack } from '../conntrack/core.js';
import { natSetup } from './core.js';
import type { NatEnv } from './core.js';

export type ConntrackServices = Pick<HostServices, 'ctLoad' | 'ctStore' | 'notrack' | 'nat' | 'connlimitCount'>;

export function conntrackServices(table: ConntrackTable, env: NatEnv, hookOf: (pkt: Packet) => number): ConntrackServices {
  return {
    ctLoad: (pkt, key, dir, regs, off) => ctLoad(table, pkt, key, dir, regs, off),
    ctStore: (pkt, key, dir, regs, off, len) => ctStore(table, pkt, key, dir, regs, off, len),
    notrack: (pkt) => notrack(table, pkt),
    nat: (pkt: Packet, req: NatRequest) => natSetup(table, pkt, req, hookOf(pkt), env),
    connlimitCount: (pkt, list) => connlimitCount(table, pkt, list),
  };
}
