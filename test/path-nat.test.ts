/**
 * NAT on the path: masquerade and a port forward bind a connection's first
 * packet; later packets and replies are rewritten from the binding without
 * the nat chains; ICMP errors are reverse-NATed with the packet they quote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { buildRuleset, expectFate, routerHost, rule } from '../src/host/path/testing.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import type { CounterExpr } from '../src/netfilter/bytecode.js';
import { icmp4Error } from '../src/host/path/build.js';

const IP = 2, PRE = 0, POST = 4;
function l3(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'raw' }); }
function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
/** `oifname "wan0" masquerade` with a counter in front, so the chain's use can be counted. */
const MASQ = rule('[ counter pkts 0 bytes 0 ]\n[ meta load oifname => reg 1 ]\n[ cmp eq reg 1 0x306e6177 0x00000000 0x00000000 0x00000000 ]\n[ masq ]', 'oifname "wan0" counter masquerade');
/** `tcp dport 8080 dnat to 10.0.1.2:80` */
const DNAT = rule('[ meta load l4proto => reg 1 ]\n[ cmp eq reg 1 0x00000006 ]\n[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp eq reg 1 0x0000901f ]\n[ immediate reg 1 0x0201000a ]\n[ immediate reg 2 0x00005000 ]\n[ nat dnat ip addr_min reg 1 proto_min reg 2 ]', 'tcp dport 8080 dnat to 10.0.1.2:80');

function natRouter(): { path: HostPath; masqCounter: CounterExpr } {
  const rs = buildRuleset([
    { family: IP, table: 'nat', chain: 'post', hook: POST, priority: 100, type: 'nat', rules: [MASQ] },
    { family: IP, table: 'nat', chain: 'pre', hook: PRE, priority: -100, type: 'nat', rules: [DNAT] },
  ]);
  const masqCounter = rs.table(IP, 'nat')!.chains.get('post')!.rules[0]!.exprs[0] as CounterExpr;
  return { path: new HostPath(routerHost(), { ruleset: rs }), masqCounter };
}

test('masquerade rewrites the first packet\'s source; the reply is un-NATed; nat chains see only the first packet', () => {
  const { path, masqCounter } = natRouter();
  const syn = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="S",seq=1)'), true);
  expectFate(syn, { fate: 'forwarded', emitted: ['wan0'] });
  const out = syn.emitted[0]!.frame.subarray(14);
  assert.equal(hex(out.subarray(12, 16)), 'c0000201', 'source is wan0\'s address');
  assert.ok(syn.steps.some((s) => s.kind === 'rewrite' && /10\.0\.1\.2:40000 > 198\.51\.100\.7:80 → 192\.0\.2\.1:/.test(s.text)));
  const sport = (out[20]! << 8) | out[21]!;
  const synack = path.receive('wan0', l3(`IP(src="198.51.100.7",dst="192.0.2.1")/TCP(sport=80,dport=${sport},flags="SA",seq=100,ack=2)`), true);
  expectFate(synack, { fate: 'forwarded', emitted: ['lan0'] });
  const back = synack.emitted[0]!.frame.subarray(14);
  assert.equal(hex(back.subarray(16, 20)), '0a000102');
  assert.equal((back[22]! << 8) | back[23]!, 40000);
  const ack = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="A",seq=2,ack=101)'), true);
  expectFate(ack, { fate: 'forwarded', emitted: ['wan0'] });
  assert.equal(masqCounter.packets, 1, 'only the first packet crossed the nat chain');
});

test('a port forward (dnat) reaches the inside host and its reply leaves from the public address', () => {
  const { path } = natRouter();
  const syn = path.receive('wan0', l3('IP(src="198.51.100.7",dst="192.0.2.1")/TCP(sport=5555,dport=8080,flags="S")'), true);
  expectFate(syn, { fate: 'forwarded', emitted: ['lan0'] });
  const inside = syn.emitted[0]!.frame.subarray(14);
  assert.equal(hex(inside.subarray(16, 20)), '0a000102');
  assert.equal((inside[22]! << 8) | inside[23]!, 80);
  const reply = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=80,dport=5555,flags="SA")'), true);
  expectFate(reply, { fate: 'forwarded', emitted: ['wan0'] });
  const out = reply.emitted[0]!.frame.subarray(14);
  assert.equal(hex(out.subarray(12, 16)), 'c0000201');
  assert.equal((out[20]! << 8) | out[21]!, 8080);
});

test('an ICMP error about a masqueraded packet is reverse-NATed, quoted packet included', () => {
  const { path } = natRouter();
  const first = path.receive('lan0', l3('IP(src="10.0.1.2",dst="198.51.100.7")/UDP(sport=4000,dport=53)'), true);
  const out = first.emitted[0]!.frame.subarray(14);
  const sport = (out[20]! << 8) | out[21]!;
  // The far end answers with port unreachable quoting what it received.
  const err = path.receive('wan0', icmp4Error(out, 3, 3, 0, new Uint8Array([198, 51, 100, 7]), 64, 1), true);
  expectFate(err, { fate: 'forwarded', emitted: ['lan0'] });
  const ip = err.emitted[0]!.frame.subarray(14);
  assert.equal(hex(ip.subarray(16, 20)), '0a000102', 'the error goes to the inside host');
  assert.equal(hex(ip.subarray(28 + 12, 28 + 16)), '0a000102', 'the quoted source is the inside address again');
  assert.equal((ip[48]! << 8) | ip[49]!, 4000, `the quoted source port is restored (was ${sport})`);
});

test('a reject of a port-forwarded packet answers from the original destination and quotes it as sent (nf_ct_attach + reverse NAT)', () => {
  // The forward chain rejects everything; the packet was DNATed to 10.0.1.2:80 in prerouting.
  const REJECT = rule('[ reject type 2 code 1 ]', 'reject with icmpx type port-unreachable');
  const RST = rule('[ reject type 1 code 0 ]', 'reject with tcp reset');
  for (const [r, check] of [[REJECT, 'icmp'], [RST, 'rst']] as const) {
    const rs = buildRuleset([
      { family: IP, table: 'nat', chain: 'pre', hook: PRE, priority: -100, type: 'nat', rules: [DNAT] },
      { family: IP, table: 'f', chain: 'fw', hook: 2, priority: 0, type: 'filter', rules: [r] },
    ]);
    const path = new HostPath(routerHost(), { ruleset: rs });
    const out = path.receive('wan0', l3('IP(src="203.0.113.5",dst="192.0.2.1")/TCP(sport=40000,dport=8080,flags="S",seq=7)'), true);
    expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', emitted: ['wan0'] });
    const reply = out.emitted[0]!.frame.subarray(14);
    assert.equal(hex(reply.subarray(12, 16)), 'c0000201', `${check}: from the address the client used`);
    if (check === 'icmp') {
      const quoted = reply.subarray(28);
      assert.equal(hex(quoted.subarray(16, 20)), 'c0000201', 'the quoted destination is the original one');
      assert.equal((quoted[22]! << 8) | quoted[23]!, 8080, 'and so is the quoted port');
    } else {
      assert.equal((reply[20]! << 8) | reply[21]!, 8080, 'the reset comes from the original port');
    }
  }
});
