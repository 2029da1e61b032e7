/**
 * Robustness of everything that reads untrusted bytes: well over 100,000
 * random, mutated and truncated byte strings go to `dissect` under every
 * link type and to every header view. A view may only throw the typed
 * PacketParseError; `dissect` may throw nothing at all; nothing may hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PacketParseError } from '../src/packet/errors.js';
import { dissect, SUPPORTED_LINK_TYPES } from '../src/packet/dissect.js';
import { describe } from '../src/packet/describe.js';
import * as wire from '../src/packet/wire/index.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ETH = '66778899aabb001122334455';

/** Valid frames of every protocol (Ethernet), from the per-protocol fixtures and scapy. */
const SEEDS = [
  // IPv4 with options / TCP with MSS, SACK-permitted, timestamps, NOP, window scale
  ETH + '0800' + '46b90040123440004006a68ac0000201c633640794040000' + '9c4000160000000100000000a00220009f080000020405b40402080a000000640000000001030307',
  // 802.1ad + 802.1Q / IPv4 / UDP
  '66778899aabb00112233445588a8a064810070c808004500001c00010000401166ce0a0000010a00000204d200350008e6d4',
  // ARP request
  'ffffffffffff001122334455080600010800060400010011223344550a0000010000000000000a000002',
  // IPv6 / HBH / SRH / fragment / dest opts / UDP
  ETH + '86dd' + '6b812345004d004020010db8000000000000000000000001 20010db8000000000000000000000002 2b00050200000100 2c04040101000000 20010db800000000000000000000000a 20010db800000000000000000000000b 3c000001abcdef01 1100010400000000 13881770000d358d68656c6c6f',
  // UDP 4500 / ESP
  ETH + '0800' + '4500002c00010000401166be0a0000010a000002119411940018c79200000100000000010000000000000000',
  // ICMP port unreachable quoting UDP
  ETH + '0800' + '4500003800070000400166bc0a0000010a00000203031121000000004500001c00090000401166be0a0000020a000009045700350008e747',
  // ICMPv6 neighbour advertisement with target link-layer option
  ETH + '86dd' + '6000000000203afffe800000000000000000000000000001ff02000000000000000000000000000188007302a0000000fe8000000000000000000000000000010201001122334455',
  // IGMPv2 query
  ETH + '0800' + '4500001c000100000102cfdd0a000001e00000011164ee9b00000000',
  // AH / TCP
  ETH + '0800' + '450000400001000040336a7701020304050607080604000000001000000000031111111111111111111111110001000200000000000000005010200000000000',
  // GRE with key and sequence / IPv4 / ICMP echo
  ETH + '0800' + '4500003c00010000402f6a7f0102030405060708300008000000002a000000074500001c00010000400158bf09090909080808080800f7fc00010002',
  // MLDv2 query
  ETH + '86dd' + '60000000001c3a01fe800000000000000000000000000001ff02000000000000000000000000000182007d2b03e80000ff0e000000000000000000000000000100000000',
  // SCTP INIT
  ETH + '0800' + '4500003400010000408466430a0000010a0000020001000211223344ddab55f60100001400000005000003e80001000100000009',
  // DCCP-Data with 48-bit sequence
  ETH + '0800' + '450000240000000040210000 0a0000010a000002 c0000035 0421abcd 0500 0102 03040506',
  // UDP-Lite with coverage 8
  ETH + '0800' + '4500002000000000408800000a0000010a000002 04d2003500080000 61626364',
  // IPv6 / ICMPv6 packet too big quoting IPv6 / TCP
  ETH + '86dd' + '6000000000443a4020010db800000000000000000000000120010db8000000000000000000000002 02000000000005dc' +
    '6000000000140640 20010db8000000000000000000000002 20010db8000000000000000000000009 c0000016 00000001 00000000 50022000 00000000',
  // IPv4 non-first fragment
  ETH + '0800' + '4500001c000120034011000 00a0000010a000002 0000000000000000',
].map(hex);

/** The layer-3 part of an Ethernet seed, for the raw and cooked link types. */
function l3(frame: Uint8Array): Uint8Array {
  let off = 12;
  while (off + 2 <= frame.length && [0x8100, 0x88a8].includes((frame[off]! << 8) | frame[off + 1]!)) off += 4;
  return frame.subarray(off + 2);
}

function sll(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + l3(frame).length);
  out.set(hex('0000 0001 0006 001122334455 0000'));
  out.set(frame.subarray(12, 14), 14);
  out.set(l3(frame), 16);
  return out;
}

function sll2(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(20 + l3(frame).length);
  out.set(frame.subarray(12, 14), 0);
  out.set(hex('0000 00000002 0001 00 06 001122334455 0000'), 2);
  out.set(l3(frame), 20);
  return out;
}

/** The frame as each link type carries it. */
function asLinkType(frame: Uint8Array, lt: number): Uint8Array {
  switch (lt) {
    case 1: return frame;
    case 113: return sll(frame);
    case 276: return sll2(frame);
    default: return l3(frame);
  }
}

let inputs = 0;

/** dissect and describe must return, whatever the bytes. */
function mustNotThrow(bytes: Uint8Array, lt: number): void {
  inputs++;
  const d = dissect(bytes, lt);
  // dissect catches everything; anything but the typed parse error shows up as an internal error.
  if (d.malformed?.startsWith('internal error')) assert.fail(`${d.malformed} on link type ${lt}: ${Buffer.from(bytes).toString('hex')}`);
  assert.equal(typeof describe(d), 'string');
  assert.equal(d.fields['frame.len'], bytes.length);
}

test('truncations of valid frames of every protocol, under every link type', () => {
  for (const frame of SEEDS) {
    for (const lt of SUPPORTED_LINK_TYPES) {
      const b = asLinkType(frame, lt);
      const version = l3(frame)[0]! >> 4;
      const fits = lt === 1 || lt === 113 || lt === 276 || (lt === 101 && (version === 4 || version === 6)) ||
        (lt === 228 && version === 4) || (lt === 229 && version === 6);
      const whole = dissect(b, lt);
      if (fits && l3(frame).length > 1 && (frame[12] !== 0x08 || frame[13] !== 0x06)) {
        assert.equal(whole.malformed, undefined, `seed parses cleanly under link type ${lt}: ${whole.malformed}`);
      }
      for (let n = 0; n <= b.length; n++) mustNotThrow(b.subarray(0, n), lt);
    }
  }
});

test('random bytes under every link type', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 160 }), fc.constantFrom(...SUPPORTED_LINK_TYPES, 0, 147), (b, lt) => {
    mustNotThrow(b, lt);
  }), { numRuns: 30_000 });
});

test('valid frames with random bytes overwritten, then truncated', () => {
  fc.assert(fc.property(
    fc.nat(SEEDS.length - 1), fc.constantFrom(...SUPPORTED_LINK_TYPES),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(),
    (i, lt, edits, cut) => {
      const b = asLinkType(SEEDS[i]!, lt).slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      mustNotThrow(b, lt);
      mustNotThrow(b.subarray(0, cut % (b.length + 1)), lt);
    },
  ), { numRuns: 25_000 });
});

type ViewCtor = new (buf: Uint8Array, off: number) => object;

const VIEWS: Array<[string, ViewCtor]> = [
  ['EthernetView', wire.EthernetView], ['VlanTagView', wire.VlanTagView], ['SllView', wire.SllView], ['Sll2View', wire.Sll2View],
  ['ArpView', wire.ArpView], ['IPv4View', wire.IPv4View], ['IPv6View', wire.IPv6View], ['IPv6ExtHeaderView', wire.IPv6ExtHeaderView],
  ['IPv6RoutingView', wire.IPv6RoutingView], ['SegmentRoutingView', wire.SegmentRoutingView], ['IPv6FragmentView', wire.IPv6FragmentView],
  ['TcpView', wire.TcpView], ['UdpView', wire.UdpView], ['UdpLiteView', wire.UdpLiteView], ['SctpView', wire.SctpView],
  ['DccpView', wire.DccpView], ['IcmpView', wire.IcmpView], ['Icmpv6View', wire.Icmpv6View], ['NdpView', wire.NdpView],
  ['MldView', wire.MldView], ['Mld2ReportView', wire.Mld2ReportView], ['IgmpView', wire.IgmpView], ['EspView', wire.EspView],
  ['AhView', wire.AhView], ['GreView', wire.GreView],
];

/** Reads every getter and walks every option cursor of a constructed view. */
function exercise(view: object): void {
  for (let proto = Object.getPrototypeOf(view); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (desc.get) void (view as Record<string, unknown>)[name];
      else if (name === 'options' && typeof desc.value === 'function') {
        const cursor = (desc.value as () => { next(): boolean }).call(view);
        for (let guard = 0; cursor.next(); guard++) assert.ok(guard < 1000, 'an option cursor ends');
      }
    }
  }
}

test('every view constructor: only PacketParseError escapes, from construction or reading', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), fc.integer({ min: -2, max: 100 }), fc.nat(VIEWS.length - 1), (b, off, v) => {
    const [name, Ctor] = VIEWS[v]!;
    inputs++;
    try {
      exercise(new Ctor(b, off));
    } catch (e) {
      if (!(e instanceof PacketParseError)) throw new Error(`${name} at ${off} of ${Buffer.from(b).toString('hex')}: ${String(e)}`);
    }
  }), { numRuns: 40_000 });
  // Views over valid seeds at every offset: plausible-looking headers, deep reads.
  for (const frame of SEEDS) {
    for (let off = 0; off < frame.length; off++) {
      for (const [name, Ctor] of VIEWS) {
        inputs++;
        try {
          exercise(new Ctor(frame, off));
        } catch (e) {
          if (!(e instanceof PacketParseError)) throw new Error(`${name} at ${off}: ${String(e)}`);
        }
      }
    }
  }
});

test('the walkers never throw and always end', () => {
  const walk: wire.IPv6Walk = { nexthdr: 0, offset: 0, fragOffset: 0 };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 255 }), (b, nh) => {
    inputs++;
    wire.ipv6SkipExtHeaders(b, 0, nh, walk);
    try {
      wire.ipv6FindHeader(b, 0, 17, walk);
    } catch (e) {
      if (!(e instanceof PacketParseError)) throw e;
    }
    wire.classifyUdpEncap(b, 0, b.length);
  }), { numRuns: 5_000 });
});

test('at least 100,000 inputs in all', () => {
  assert.ok(inputs >= 100_000, `${inputs} inputs`);
});
