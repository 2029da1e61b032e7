/**
 * Packet-expression errors name the problem and underline the culprit, as
 * nft does: `error: …`, the expression, and `^^^` under the offending token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketExpressionError, parsePacketExpression, type PacketExpressionErrorCode } from '../src/packet/scapy/index.js';

/** Expects `text` to fail with `code`, `message`, and carets exactly under `culprit` (its first occurrence at or after `from`). */
function expectParseError(text: string, code: PacketExpressionErrorCode, message: string, culprit: string, from = 0): void {
  let err: unknown;
  try {
    parsePacketExpression(text);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof PacketExpressionError, `expected a PacketExpressionError for ${text}, got ${String(err)}`);
  assert.equal(err.code, code, err.format());
  assert.equal(err.message, message);
  const start = text.indexOf(culprit, from);
  assert.ok(start >= 0, `culprit ${culprit} not in ${text}`);
  // At the end of the text the culprit is empty; the location then covers one column.
  const width = Math.max(1, culprit.length);
  assert.deepEqual(err.location, { start, end: start + width }, err.format());
  assert.equal(err.format(), `error: ${message}\n${text}\n${' '.repeat(start)}${'^'.repeat(width)}`);
}

test('an unknown field is underlined, with the closest field name suggested', () => {
  expectParseError('IP(dst="10.0.0.2")/TCP(dprt=22)', 'unknown-field', 'unknown field "dprt" for TCP, did you mean "dport"?', 'dprt');
  expectParseError('IP(ttll=3)', 'unknown-field', 'unknown field "ttll" for IP, did you mean "ttl"?', 'ttll');
  expectParseError('UDP(zzzzzz=1)', 'unknown-field', 'unknown field "zzzzzz" for UDP', 'zzzzzz');
});

test('an unknown layer is underlined, with a suggestion', () => {
  expectParseError('IP()/TPC()', 'unknown-layer', 'unknown layer "TPC", did you mean "TCP"?', 'TPC');
  expectParseError('Ehter()/IP()', 'unknown-layer', 'unknown layer "Ehter", did you mean "Ether"?', 'Ehter');
  expectParseError('IP()/Frobnicator()', 'unknown-layer', 'unknown layer "Frobnicator"', 'Frobnicator');
});

test('values that do not fit or do not parse point at the value', () => {
  expectParseError('IP(ttl=256)', 'bad-value', '256 does not fit in IP.ttl (8 bits)', '256');
  expectParseError('TCP(sport=-1)', 'bad-value', '-1 does not fit in TCP.sport (16 bits)', '-1');
  expectParseError('IP(src="10.0.0.300")', 'bad-value', '"10.0.0.300" is not an IPv4 address (host names and networks are not supported)', '"10.0.0.300"');
  expectParseError('IP(dst="example.com")', 'bad-value', '"example.com" is not an IPv4 address (host names and networks are not supported)', '"example.com"');
  expectParseError('Ether(dst="00:11:22:33:44")', 'bad-value', '"00:11:22:33:44" is not a MAC address', '"00:11:22:33:44"');
  expectParseError('IPv6(dst="1::2::3")', 'bad-value', '"1::2::3" is not an IPv6 address (host names and networks are not supported)', '"1::2::3"');
  expectParseError('TCP(flags="SX")', 'bad-value', 'unknown flag "X" for TCP.flags (flags are FSRPAUECN)', '"SX"');
  expectParseError('IP(flags="DF+XF")', 'bad-value', 'unknown flag "XF" for IP.flags (flags are MF, DF, evil)', '"DF+XF"');
  expectParseError('ICMP(type="echo-reqest")', 'bad-value', 'unknown value "echo-reqest" for ICMP.type, did you mean "echo-request"?', '"echo-reqest"');
  expectParseError('TCP(sport="http")', 'bad-value', 'TCP.sport takes a number', '"http"');
  expectParseError('TCP(options=[("MSSS", 1460)])', 'bad-value', 'unknown TCP option "MSSS", did you mean "MSS"?', '"MSSS"');
  expectParseError('TCP(options=[("MSS", "x", 3)])', 'bad-value', 'a TCP option is a (name, value) tuple', '("MSS", "x", 3)');
  expectParseError('IP(options=[TCP()])', 'bad-value', 'TCP cannot go in IP.options', 'TCP', 12);
  expectParseError('IP(options=[IPOption_RR(routers=["1.2.3.4", None])])', 'bad-value', 'None is not an address', 'None');
  expectParseError('Raw(load=5)', 'bad-value', 'Raw.load takes a string or bytes', '5');
  // Names are looked up as own properties only: nothing inherited from Object.prototype resolves.
  expectParseError('ICMP(type="constructor")', 'bad-value', 'unknown value "constructor" for ICMP.type', '"constructor"');
  expectParseError('TCP(options=[("toString", 1)])', 'bad-value', 'unknown TCP option "toString"', '"toString"');
  expectParseError('ICMPv6NDOptRedirectedHdr(pkt=b"raw")', 'bad-value', 'ICMPv6NDOptRedirectedHdr.pkt takes a packet such as IPv6(...)/UDP()', 'b"raw"');
  expectParseError('ICMPv6NDOptRedirectedHdr(pkt=IPv6()/TPC())', 'unknown-layer', 'unknown layer "TPC", did you mean "TCP"?', 'TPC');
});

test('misuse of the language is reported where it happens', () => {
  expectParseError('IP(ttl=3, ttl=4)', 'duplicate-field', 'field "ttl" given twice', 'ttl', 9);
  expectParseError('IP("raw bytes")', 'unsupported', 'IP takes keyword arguments only (a positional argument would be dissected as raw bytes by scapy)', '"raw bytes"');
  expectParseError('IPOption_NOP()', 'unsupported', 'IPOption_NOP only goes inside a field (a list of options or records)', 'IPOption_NOP');
  expectParseError('"abc"/IP()', 'syntax', 'an expression starts with a layer such as IP(...); use Raw(load=...) for bare data', '"abc"');
});

test('syntax errors point at the unexpected token', () => {
  expectParseError('IP(ttl=3', 'syntax', 'expected "," or ")", found end of expression', '', 8);
  expectParseError('IP(ttl=3)/', 'syntax', 'expected a layer such as IP(...), found end of expression', '', 10);
  expectParseError('IP(ttl=3) TCP()', 'syntax', 'expected "/" or end of expression, found "TCP"', 'TCP');
  expectParseError('IP(ttl=)', 'syntax', 'expected a value, found ")"', ')');
  expectParseError('IP(ttl=3 tos=4)', 'syntax', 'expected "," or ")", found "tos"', 'tos');
  expectParseError('IP(ttl=x)', 'syntax', 'expected a value, found the name "x" (only None, True, False and Layer(...) calls are allowed)', 'x', 7);
  expectParseError('IP(ttl=3, 4)', 'syntax', 'positional argument follows keyword argument', '4');
  expectParseError('IP(ttl=3;)', 'syntax', 'unexpected character ";"', ';');
  expectParseError('IP(ttl=1.5)', 'bad-number', 'floating-point numbers are not supported', '1.5');
  expectParseError('IP(ttl=012)', 'bad-number', 'invalid number "012"', '012');
  expectParseError('Raw(load="abc)', 'unterminated-string', 'unterminated string', '"abc)');
  expectParseError('Raw(load="\\xZ1")', 'bad-escape', 'invalid \\x escape: needs two hex digits', '\\xZ1');
  expectParseError('Raw(load=b"é")', 'syntax', 'bytes can only contain ASCII literal characters', 'é');
});

test('deep nesting and long layer chains are refused before they can exhaust the stack', () => {
  const deep = 'Raw(load=' + '['.repeat(10000) + ')';
  assert.throws(() => parsePacketExpression(deep), (e: unknown) => e instanceof PacketExpressionError && e.message === 'values nest more than 32 deep');
  const long = Array.from({ length: 10000 }, () => 'Raw()').join('/');
  assert.throws(() => parsePacketExpression(long), (e: unknown) => e instanceof PacketExpressionError && e.message === 'more than 64 layers');
  assert.equal(parsePacketExpression(Array.from({ length: 64 }, () => 'Raw()').join('/')).layers.length, 64);
});

test('an empty-width location still shows one caret (at the end of the text)', () => {
  try {
    parsePacketExpression('TCP(');
    assert.fail('no error');
  } catch (e) {
    assert.ok(e instanceof PacketExpressionError);
    assert.equal(e.format(), 'error: expected a value, found end of expression\nTCP(\n    ^');
  }
});

test('robustness: any text either builds or fails with a located PacketExpressionError — nothing else escapes', async () => {
  const fc = (await import('fast-check')).default;
  const { packetFromExpression } = await import('../src/packet/scapy/index.js');
  const pieces = [
    'IP(', 'IPv6(', 'TCP(', 'UDP(', 'Ether(', 'ICMP(', 'Raw(', 'ESP(', 'GRE(', 'IPv6ExtHdrHopByHop(', 'IGMPv3mr(', 'ICMPv6MLReport2(',
    ')', '/', ',', '=', '[', ']', '(', 'options', 'records', 'load', 'src', 'dst', 'flags', 'type', 'code', 'ttl', 'sport', 'data',
    '"10.0.0.1"', '"::1"', '"SA"', '"DF"', 'b"\\xff"', "'x'", '0x10', '-5', '99999999999', '1_0', 'None', 'True', '("MSS", 1460)',
    'IPOption_RR(routers=["1.2.3.4"])', 'PadN(optdata=b"ab")', 'IGMPv3gr()', 'ICMPv6MLDMultAddrRec()', '("SAck", (1, 2, 3))', '(99, 5)',
    '"\\u12"', '"\\', '\n', ' ', '"port-unreachable"', '[1, [2]]', '((1,),)', '"constructor"', '"toString"', '("__proto__", 1)',
    '("hasOwnProperty", b"")', 'pkt=IPv6()/', 'ICMPv6NDOptRedirectedHdr(', 'tlv_objects', 'IPv6ExtHdrSegmentRoutingTLV()',
  ];
  const check = (text: string) => {
    try {
      const b = packetFromExpression(text);
      assert.ok(b instanceof Uint8Array);
    } catch (e) {
      if (!(e instanceof PacketExpressionError)) throw new Error(`${JSON.stringify(text)} threw ${String(e)}`);
      assert.ok(e.location.start >= 0 && e.location.end <= text.length + 1 && e.location.start < e.location.end, JSON.stringify(text));
      e.format();
    }
  };
  fc.assert(fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 14 }), (ps) => check(ps.join(''))), { numRuns: 10000 });
  fc.assert(fc.property(fc.string({ maxLength: 40 }), check), { numRuns: 10000 });
});
