/**
 * The `nfx` commands. An explicit list, no import side effects: a command is
 * here or it does not exist.
 */
import type { Command } from '../context.js';
import { conntrackCommand } from './conntrack.js';
import { demoCommand } from './demo.js';
import { packetCommand } from './packet.js';
import { ipCommand } from './ip.js';
import { sysctlCommand } from './sysctl.js';
import { runCommand } from './run.js';
import { netnsCommand } from './netns.js';
import { nftCommand } from './nft.js';
import { injectCommand } from './inject.js';
import { whyCommand } from './why.js';
import { bridgeCommand } from './bridge.js';

export const commands: ReadonlyMap<string, { run: Command; summary: string }> = new Map([
  ['demo', { run: demoCommand, summary: 'replay the bundled office capture through the bundled gateway [-r FILE [--iif DEV]]' }],
  ['packet', { run: packetCommand, summary: 'dissect or build packets (tcpdump lines, Wireshark-field JSON, pcap)' }],
  ['nft', { run: nftCommand, summary: 'load, list and change the nf_tables ruleset (nft 1.0.6)' }],
  ['ip', { run: ipCommand, summary: 'show and change interfaces, addresses, routes, rules, neighbours (iproute2)' }],
  ['bridge', { run: bridgeCommand, summary: 'show bridge ports and the forwarding database, set port flags (iproute2 bridge)' }],
  ['sysctl', { run: sysctlCommand, summary: 'read and write net.* sysctls (procps sysctl)' }],
  ['run', { run: runCommand, summary: 'apply a script of ip, sysctl and nft lines to the host' }],
  ['conntrack', { run: conntrackCommand, summary: 'list, count or flush the connection tracking table (conntrack-tools)' }],
  ['netns', { run: netnsCommand, summary: 'list, add and delete virtual hosts' }],
  ['inject', { run: injectCommand, summary: 'send packets through the host and report each one\'s fate (JSON, pcap)' }],
  ['why', { run: whyCommand, summary: 'explain one packet\'s path hook by hook, and who dropped it' }],
]);
