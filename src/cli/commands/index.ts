/**
 * The `nfx` commands. An explicit list, no import side effects: a command is
 * here or it does not exist.
 */
import type { Command } from '../context.js';
import { demoCommand } from './demo.js';
import { packetCommand } from './packet.js';
import { ipCommand } from './ip.js';
import { sysctlCommand } from './sysctl.js';
import { runCommand } from './run.js';
import { netnsCommand } from './netns.js';

export const commands: ReadonlyMap<string, { run: Command; summary: string }> = new Map([
  ['demo', { run: demoCommand, summary: 'run the bundled scenario end to end' }],
  ['packet', { run: packetCommand, summary: 'dissect or build packets (tcpdump lines, Wireshark-field JSON, pcap)' }],
  ['ip', { run: ipCommand, summary: 'show and change interfaces, addresses, routes, rules, neighbours (iproute2)' }],
  ['sysctl', { run: sysctlCommand, summary: 'read and write net.* sysctls (procps sysctl)' }],
  ['run', { run: runCommand, summary: 'apply a script of ip, sysctl and nft lines to the host' }],
  ['netns', { run: netnsCommand, summary: 'list, add and delete virtual hosts' }],
]);
