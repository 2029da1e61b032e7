/**
 * A long demo replay switches a site to the fast mode (Site.fast()) for its tail: the fast path
 * shares the detailed one's conntrack table and flowtables, so a connection offloaded while steps
 * were recorded keeps its fast path after the switch, and one offloaded afterwards is the same
 * flow for both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGateway } from '../src/cli/commands/demo.js';
import { Site } from '../src/demo/sites.js';
import { trafficMix } from '../bench/host.js';

test('the fast mode of a site keeps the flows offloaded before the switch', async () => {
  const site = new Site('office', await buildGateway());
  // One TCP connection's life from the bench's traffic: SYN, SYN-ACK, ACK (offloaded), then data both ways.
  const [syn, synAck, ack, data, reply] = trafficMix().slice(0, 5) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  assert.equal(site.path.receive('lan0', syn).fate, 'forwarded');
  assert.equal(site.path.receive('wan0', synAck).fate, 'forwarded');
  assert.equal(site.path.receive('lan0', ack).fate, 'forwarded');
  const fast = site.fast();
  assert.equal(fast.flowtables, site.path.flowtables);
  const ft = fast.flowtables.all(fast.ruleset)[0]!;
  const before = ft.packets;
  assert.equal(fast.receive('lan0', data).fate, 'forwarded');
  assert.equal(fast.receive('wan0', reply).fate, 'forwarded');
  assert.equal(ft.packets - before, 2, 'both packets took the fast path');
  assert.equal(fast.flowtables.early, 2, 'before they became packets');
});
