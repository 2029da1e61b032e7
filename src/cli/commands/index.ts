/**
 * The `nfx` commands. An explicit list, no import side effects: a command is
 * here or it does not exist.
 */
import type { Command } from '../context.js';
import { packetCommand } from './packet.js';

export const commands: ReadonlyMap<string, { run: Command; summary: string }> = new Map([
  ['packet', { run: packetCommand, summary: 'dissect or build packets (tcpdump lines, Wireshark-field JSON, pcap)' }],
]);
