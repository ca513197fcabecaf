/**
 * acceptH2Connection: a connection whose first request needs no fix is handed to the HTTP/2
 * server as the raw socket (Node's native path, no filter cost), one that does goes through
 * the filter; both get their answers.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { SNIFF_WAIT_MS, acceptH2Connection } from './h2-authority';
import { CLIENT_PREFACE } from './h2-wire';

/** An empty SETTINGS frame, as a client's first frame. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);

/** One GET on `client`; the body (the server echoes the :authority it saw). */
function request(client: http2.ClientHttp2Session, authority?: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = client.request(authority === undefined ? { ':path': '/' } : { ':path': '/', ':authority': authority });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve(body));
    req.on('error', reject);
    req.end();
  });
}

async function get(port: number, authority?: string): Promise<string> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await request(client, authority);
  } finally {
    client.close();
  }
}

test('a clean connection goes native, a URL authority goes through the filter; both are answered', async () => {
  const l = await listen();
  try {
    assert.equal(await get(l.port), `127.0.0.1:${l.port}`);
    assert.equal(await get(l.port, `http://127.0.0.1:${l.port}`), `127.0.0.1:${l.port}`);
    assert.deepEqual(l.kinds, ['native', 'filter']);
  } finally {
    l.close();
  }
});

/** A listener that hands connections to an HTTP/2 server through acceptH2Connection; records how. */
async function listen(): Promise<{ port: number; kinds: string[]; close: () => void; server: http2.Http2Server }> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':authority']));
  });
  const kinds: string[] = [];
  const listener = net.createServer((socket) =>
    acceptH2Connection(socket, (conn) => {
      kinds.push(conn instanceof net.Socket ? 'native' : 'filter');
      server.emit('connection', conn);
    }),
  );
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  return { port: (listener.address() as net.AddressInfo).port, kinds, close: () => (listener.close(), server.close()), server };
}

test('a client whose first request comes late (a loaded client) still goes native', async () => {
  const l = await listen();
  const client = http2.connect(`http://127.0.0.1:${l.port}`);
  try {
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(l.kinds, [], 'undecided while the client is quiet');
    assert.equal(await request(client), `127.0.0.1:${l.port}`);
    assert.deepEqual(l.kinds, ['native']);
  } finally {
    client.close();
    l.close();
  }
});

test('a PING before any request is answered at once (the connection goes through the filter)', async () => {
  const l = await listen();
  const client = http2.connect(`http://127.0.0.1:${l.port}`);
  try {
    await new Promise<void>((r) => client.once('connect', () => r()));
    const start = Date.now();
    await new Promise<void>((resolve, reject) => client.ping((err) => (err ? reject(err) : resolve())));
    assert.ok(Date.now() - start < 1000, `PING answered after ${Date.now() - start} ms`);
    assert.deepEqual(l.kinds, ['filter']);
  } finally {
    client.close();
    l.close();
  }
});

for (const how of ['closes', 'resets'] as const) {
  test(`the server's session ends when a client on the filter ${how} its connection`, async () => {
    const l = await listen();
    const session = new Promise<http2.ServerHttp2Session>((r) => l.server.once('session', r));
    // A raw client: preface, empty SETTINGS, then a PING, which sends the connection through
    // the filter at once.
    const raw = net.connect(l.port, '127.0.0.1');
    try {
      await new Promise<void>((r) => raw.once('connect', () => r()));
      const ping = Buffer.concat([Buffer.from([0, 0, 8, 0x6, 0, 0, 0, 0, 0]), Buffer.alloc(8, 1)]);
      raw.write(Buffer.concat([CLIENT_PREFACE, EMPTY_SETTINGS, ping]));
      const s = await session;
      assert.deepEqual(l.kinds, ['filter']);
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      if (how === 'closes') raw.end();
      else raw.resetAndDestroy();
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the session outlived its connection by 2 s')), 2000))]);
    } finally {
      raw.destroy();
      l.close();
    }
  });
}

test('a client that leaves before its first request is dropped, not handed on when the wait ends', async () => {
  const l = await listen();
  const raw = net.connect(l.port, '127.0.0.1');
  try {
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.end(Buffer.concat([CLIENT_PREFACE, EMPTY_SETTINGS]));
    await new Promise((r) => setTimeout(r, SNIFF_WAIT_MS + 300));
    // Handed on after its socket closed, the connection's HTTP/2 session would never end and
    // would hold a graceful shutdown until its timeout.
    assert.deepEqual(l.kinds, []);
  } finally {
    raw.destroy();
    l.close();
  }
});
