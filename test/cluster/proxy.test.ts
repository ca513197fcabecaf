import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { pickFreePorts } from '../compat/server';
import { PeerProxy } from './proxy';
import { socketOwner } from './socket-owner';

/** An echo server on a free port. */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const [port] = await pickFreePorts(1);
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(port!, '127.0.0.1', () => r()));
  return { port: port!, close: () => new Promise((r) => server.close(() => r())) };
}

/** Sends `text` through a new connection; resolves with the echo and its delay, or the way it failed. */
function roundTrip(port: number, text: string, boundMs = 2_000): Promise<{ echo: string; ms: number } | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const timer = setTimeout(() => (s.destroy(), resolve('timeout')), boundMs);
    s.on('error', () => undefined);
    s.on('data', (d) => {
      got += d.toString();
      if (got === text) {
        clearTimeout(timer);
        s.destroy();
        resolve({ echo: got, ms: Date.now() - started });
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (got !== text) resolve('closed');
    });
    s.write(text);
  });
}

test('the proxy forwards in pass mode, delays in delay mode, refuses and cuts in drop mode, and heals', async () => {
  const echo = await echoServer();
  const [listen] = await pickFreePorts(1);
  const proxy = new PeerProxy(listen!, echo.port);
  await proxy.start();
  try {
    assert.deepEqual(await roundTrip(listen!, 'hello').then((r) => (typeof r === 'string' ? r : r.echo)), 'hello');

    proxy.setMode({ kind: 'delay', delayMs: 150 });
    const delayed = await roundTrip(listen!, 'slow');
    assert.ok(typeof delayed !== 'string' && delayed.ms >= 2 * 150 - 10, `a delayed echo (two hops of 150 ms) took ${JSON.stringify(delayed)}`);

    // An open connection is cut when the drop starts; new ones are refused.
    proxy.setMode({ kind: 'pass' });
    const open = net.connect({ port: listen!, host: '127.0.0.1' });
    open.on('error', () => undefined);
    await new Promise((r) => open.once('connect', r));
    await new Promise((r) => setTimeout(r, 50));
    const closed = new Promise((r) => open.once('close', r));
    proxy.setMode({ kind: 'drop' });
    await closed;
    assert.equal(await roundTrip(listen!, 'x', 500), 'closed');
    assert.ok(proxy.stats.dropped >= 2);

    proxy.heal();
    assert.notEqual(typeof (await roundTrip(listen!, 'back')), 'string');
    assert.throws(() => proxy.setMode({ kind: 'delay', delayMs: -1 }), /outside/);
  } finally {
    await proxy.close();
    await echo.close();
  }
});

test('blockOrigin drops the connections the named process dialed, found through /proc', async () => {
  const echo = await echoServer();
  const [listen] = await pickFreePorts(1);
  // This test process dials, so it is the origin; another pid (none: above pid_max) must not match.
  const proxy = new PeerProxy(listen!, echo.port, (client, server) => socketOwner(client, server, new Map([['other', 2 ** 22 + 7], ['self', process.pid]])));
  await proxy.start();
  try {
    assert.notEqual(typeof (await roundTrip(listen!, 'before')), 'string');
    proxy.blockOrigin('other');
    assert.notEqual(typeof (await roundTrip(listen!, 'other blocked')), 'string', 'blocking another origin cut this one');
    proxy.blockOrigin('self');
    assert.equal(await roundTrip(listen!, 'self blocked', 1_000), 'closed');
    proxy.heal();
    assert.notEqual(typeof (await roundTrip(listen!, 'healed')), 'string');
  } finally {
    await proxy.close();
    await echo.close();
  }
});
