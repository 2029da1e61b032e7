/**
 * `ip [OPTIONS] OBJECT COMMAND ...` over a virtual host: iproute2's option and
 * object parsing (ip/ip.c), dispatch to one module per object. State changes
 * happen only through the model; a failing command throws HostError before or
 * without changing anything it has not already validated.
 */
import { HostError } from '../errors.js';
import type { Host } from '../types.js';
import { ipAddr } from './addr.js';
import { ipLink } from './link.js';
import { ipRoute } from './route.js';
import { ipNeigh, ipRule } from './rule.js';
import { fail, matches, type IpIo, type IpOptions } from './util.js';
import { Xfrm, ipXfrm } from '../../xfrm/index.js';
import { linkByIndex, linkByName } from '../links.js';
import { hostClock } from '../path/state.js';
import { loadXfrm, storeXfrm } from '../path/xfrm-state.js';

type Handler = (host: Host, argv: string[], opts: IpOptions, io: IpIo) => number;

/**
 * `ip xfrm`: src/xfrm's command over the host's saved SAD/SPD (`host.sections.xfrm`),
 * on the host's clock, saved back only when it succeeds. Keys stay hidden unless `-s`
 * asks for them (iproute2 prints them always; nfx never shows a secret unasked).
 */
function xfrmHandler(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const clock = hostClock(host);
  const x = loadXfrm(host, clock) ?? new Xfrm({ clock });
  const r = ipXfrm(argv, x, {
    stats: opts.stats, oneline: opts.oneline, family: opts.family ?? 0, nokeys: opts.stats === 0,
    ifIndex: (n) => linkByName(host, n)?.index ?? 0,
    ifName: (i) => linkByIndex(host, i)?.name ?? String(i),
  });
  if (r.stdout) io.out(r.stdout);
  if (r.stderr) io.err(r.stderr);
  if (r.status === 0) storeXfrm(host, x);
  return r.status;
}

/** ip.c's object table, in its order (the first object the word abbreviates wins). */
const OBJECTS: [string, Handler | null][] = [
  ['address', ipAddr], ['addrlabel', null], ['maddress', null], ['route', ipRoute], ['rule', ipRule],
  ['neighbor', ipNeigh], ['neighbour', ipNeigh], ['ntable', null], ['ntbl', null], ['link', ipLink],
  ['l2tp', null], ['fou', null], ['ila', null], ['macsec', null], ['tunnel', null], ['tunl', null], ['tuntap', null],
  ['tap', null], ['token', null], ['tcpmetrics', null], ['tcp_metrics', null], ['monitor', null],
  ['xfrm', xfrmHandler], ['mroute', null], ['mrule', null], ['netns', null],
  ['netconf', null], ['vrf', null], ['sr', null], ['nexthop', null], ['mptcp', null], ['ioam', null], ['help', null],
  ['stats', null],
];

/**
 * Runs one `ip` command line (without the leading `ip`). Returns iproute2's exit
 * status; messages go to `io`. Throws nothing for command failures.
 */
export function runIp(host: Host, argv: string[], io: IpIo): number {
  try {
    return dispatch(host, argv, io);
  } catch (e) {
    if (e instanceof HostError) {
      io.err(e.message.endsWith('\n') ? e.message : e.message + '\n');
      return e.status;
    }
    throw e;
  }
}

function dispatch(host: Host, argv: string[], io: IpIo): number {
  const opts: IpOptions = { json: false, stats: 0, details: 0, oneline: false, brief: false };
  let i = 0;
  for (; i < argv.length; i++) {
    let o = argv[i]!;
    if (!o.startsWith('-') || o === '-') break;
    if (o.startsWith('--')) o = o.slice(1);
    if (o === '-4') opts.family = 4;
    else if (o === '-6') opts.family = 6;
    else if (o === '-0' || matches(o.slice(1), 'family') && o.length > 2) {
      if (o !== '-0') {
        const f = argv[++i];
        if (f === 'inet') opts.family = 4; else if (f === 'inet6') opts.family = 6;
        else throw fail(`Error: argument "${f ?? ''}" is wrong: invalid protocol family`);
      }
    }
    else if (o === '-br' || matches(o.slice(1), 'brief')) opts.brief = true;
    else if (matches(o.slice(1), 'json')) opts.json = true;
    else if (matches(o.slice(1), 'pretty')) { /* accepted; output stays compact */ }
    else if (matches(o.slice(1), 'statistics') || o === '-s') opts.stats++;
    else if (matches(o.slice(1), 'details')) opts.details++;
    else if (matches(o.slice(1), 'oneline')) opts.oneline = true;
    else if (o === '-c' || matches(o.slice(1), 'color')) { /* colour is off when not a terminal */ }
    else if (o === '-n' || matches(o.slice(1), 'netns')) {
      throw fail('Error: use "nfx -n NETNS ip ..." to choose the virtual host.');
    } else throw fail(`Option "${argv[i]}" is unknown, try "ip -help".`, 255);
  }
  const obj = argv[i];
  if (obj === undefined) throw fail('Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }', 255);
  for (const [name, h] of OBJECTS) {
    if (!matches(obj, name)) continue;
    if (!h) throw fail(`Error: "ip ${name}" is not supported by nfx.`);
    return h(host, argv.slice(i + 1), opts, io);
  }
  throw fail(`Object "${obj}" is unknown, try "ip help".`);
}
