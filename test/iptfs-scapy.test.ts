/**
 * IP-TFS on the wire, checked by software we did not write: outer packets
 * made by nfx (IptfsSender → iptfsEspOutput with rfc4106(gcm(aes)), IPv4 and
 * IPv6 outer) are decrypted by scapy 2.5 (one /usr/bin/python3 process); the
 * decrypted AGGFRAG payloads are then split by a small parser written here,
 * independent of src/, and must give back the inner packets byte for byte.
 * Also checked: ESP next header 144, outer DSCP/ECN 0, IPv4 DF set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createEspSa } from '../src/xfrm/esp/index.js';
import { defaultIptfsOptions, IptfsSender, iptfsEspOutput, iptfsOverhead, iptfsPayloadMtu, VirtualScheduler } from '../src/xfrm/esp/iptfs/index.js';

const PY = '/usr/bin/python3';
const hasScapy = existsSync(PY) && spawnSync(PY, ['-c', 'import scapy.layers.ipsec'], { stdio: 'ignore' }).status === 0;

const SCRIPT = String.raw`
import sys, json
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import SecurityAssociation, ESP
out = []
for line in sys.stdin:
    c = json.loads(line)
    sa = SecurityAssociation(ESP, spi=c['spi'], crypt_algo='AES-GCM', crypt_key=bytes.fromhex(c['key']), auth_algo='NULL',
                             tunnel_header=(IP(src=c['src'], dst=c['dst']) if c['v'] == 4 else IPv6(src=c['src'], dst=c['dst'])))
    res = []
    for h in c['packets']:
        raw = bytes.fromhex(h)
        pkt = IP(raw) if c['v'] == 4 else IPv6(raw)
        outer = {'tos': pkt.tos, 'flags': int(pkt.flags), 'proto': pkt.proto} if c['v'] == 4 else {'tc': pkt.tc, 'fl': pkt.fl, 'nh': pkt.nh}
        esp = sa.crypt_algo.decrypt(sa, pkt[ESP], sa.crypt_key, sa.crypt_icv_size or sa.crypt_algo.icv_size)
        res.append({'nh': esp.nh, 'data': bytes(esp.data).hex(), 'outer': outer})
    out.append(res)
print(json.dumps(out))
`;

/** The test's own AGGFRAG reader: payloads in order, no loss: one byte stream split by IP length fields. */
function splitAggfrag(payloads: Uint8Array[]): Uint8Array[] {
  const stream: number[] = [];
  const packets: Uint8Array[] = [];
  let inProgressLeft = 0; // bytes of the current packet not yet seen when a payload starts
  let pos = 0;
  for (const p of payloads) {
    assert.equal(p[0], 0, 'subtype basic');
    assert.equal(p[1], 0, 'flags 0');
    const blkoff = (p[2]! << 8) | p[3]!;
    assert.equal(blkoff, inProgressLeft, 'block offset = bytes still owed to the packet in progress');
    for (let i = 4; i < p.length; i++) stream.push(p[i]!);
    // Consume whole packets from the stream.
    for (;;) {
      const left = stream.length - pos;
      if (left === 0) {
        inProgressLeft = 0;
        break;
      }
      const v = stream[pos]! >> 4;
      assert.ok(v === 4 || v === 6, `block starts with IP version 4 or 6, got ${v}`);
      if (left < 6) throw new Error('runt: nfx never makes one');
      const len = v === 4 ? (stream[pos + 2]! << 8) | stream[pos + 3]! : ((stream[pos + 4]! << 8) | stream[pos + 5]!) + 40;
      if (left < len) {
        inProgressLeft = len - left;
        break;
      }
      packets.push(Uint8Array.from(stream.slice(pos, pos + len)));
      pos += len;
    }
  }
  assert.equal(inProgressLeft, 0, 'nothing left half-sent');
  return packets;
}

function inner(i: number): Uint8Array {
  const v6 = i % 3 === 0;
  // Mostly small packets (aggregated), every fifth one large (fragmented).
  const big = i % 5 === 0;
  const size = v6 ? 40 + ((i * 397) % (big ? 2900 : 300)) : 20 + ((i * 211) % (big ? 3000 : 300));
  const p = Uint8Array.from(randomBytes(size));
  if (v6) {
    p[0] = 0x60 | (p[0]! & 0x0f);
    p[4] = (size - 40) >> 8;
    p[5] = (size - 40) & 0xff;
  } else {
    p[0] = 0x45;
    p[2] = size >> 8;
    p[3] = size & 0xff;
  }
  return p;
}

test('IP-TFS over rfc4106(gcm(aes)): scapy decrypts, an independent parser reassembles the inner packets', (t) => {
  if (!hasScapy) {
    t.skip('scapy not installed for /usr/bin/python3');
    return;
  }
  const cases = [
    { v: 4 as const, src: '192.0.2.1', dst: '198.51.100.7', pktSize: 1400 },
    { v: 6 as const, src: '2001:db8::1', dst: '2001:db8:1::2', pktSize: 0 },
  ];
  const inputs: string[] = [];
  const expected: Uint8Array[][] = [];
  for (const c of cases) {
    const key = randomBytes(20);
    const spi = 0x1000 + c.v;
    const sa = createEspSa({ spi, saddr: c.src, daddr: c.dst, mode: 'tunnel', aead: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 } });
    const opts = { ...defaultIptfsOptions(), pktSize: c.pktSize };
    const sched = new VirtualScheduler();
    const wire: string[] = [];
    const tx = new IptfsSender({
      options: opts,
      scheduler: sched,
      mtu: iptfsPayloadMtu(iptfsOverhead(sa), opts, 1500),
      output: (p) => {
        const r = iptfsEspOutput(sa, p);
        assert.equal(r.ok, true);
        wire.push(Buffer.from(p.data).toString('hex'));
      },
    });
    const inners: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) {
      const p = inner(i + c.v);
      inners.push(p.slice());
      assert.equal(tx.enqueue(p).ok, true);
      if (i % 7 === 6) sched.runDue();
    }
    sched.runDue();
    expected.push(inners);
    inputs.push(JSON.stringify({ v: c.v, spi, key: key.toString('hex'), src: c.src, dst: c.dst, packets: wire }));
  }
  const r = spawnSync(PY, ['-c', SCRIPT], { input: inputs.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const results = JSON.parse(r.stdout) as { nh: number; data: string; outer: Record<string, number> }[][];
  for (let c = 0; c < cases.length; c++) {
    const res = results[c]!;
    for (const x of res) {
      assert.equal(x.nh, 144, 'ESP next header is AGGFRAG');
      if (cases[c]!.v === 4) assert.deepEqual(x.outer, { tos: 0, flags: 2, proto: 50 }, 'outer IPv4: DSCP/ECN 0, DF, ESP');
      else assert.deepEqual(x.outer, { tc: 0, fl: 0, nh: 50 }, 'outer IPv6: traffic class 0, flow label 0');
    }
    const got = splitAggfrag(res.map((x) => Uint8Array.from(Buffer.from(x.data, 'hex'))));
    assert.equal(got.length, expected[c]!.length);
    for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], expected[c]![i], `IPv${cases[c]!.v} outer: inner packet ${i}`);
    assert.ok(res.length < expected[c]!.length, `aggregation: ${res.length} outer packets for ${expected[c]!.length} inner`);
  }
});
