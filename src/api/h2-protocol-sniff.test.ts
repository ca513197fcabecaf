import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { acceptH2Connection } from './h2-authority';

/**
 * acceptH2Connection with an HTTP/1.x handler: one listener, two protocols, told apart by the
 * first bytes (the client port's gRPC and JSON gateway, as etcd's cmux does).
 */
let listener: net.Server;
let port = 0;
const h1 = http.createServer((req, res) => res.end(`h1 ${req.method} ${req.url}`));
const h2 = http2.createServer((req, res) => res.end(`h2 ${req.url}`));

before(async () => {
  listener = net.createServer((socket) =>
    acceptH2Connection(socket, (conn) => h2.emit('connection', conn), { http1: (s) => h1.emit('connection', s) }),
  );
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as net.AddressInfo).port;
});

after(() => {
  h1.closeAllConnections();
  listener.close();
});

/** Sends raw bytes in the given pieces (a pause between each) and returns all bytes read. */
function raw(pieces: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    void (async () => {
      for (const p of pieces) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  });
}

test('an HTTP/1.1 request goes to the HTTP/1 server, and nothing else is written first', async () => {
  const out = await raw(['GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  assert.ok(out.startsWith('HTTP/1.1 200 OK\r\n'), out);
  assert.ok(out.endsWith('h1 GET /metrics'), out);
});

test('an HTTP/1.1 request that starts like the HTTP/2 preface ("P...") is still HTTP/1', async () => {
  const out = await raw(['P', 'OST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n']);
  assert.ok(out.endsWith('h1 POST /v3/kv/range'), out);
});

test('HTTP/2 with prior knowledge goes to the HTTP/2 server', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = client.request({ ':path': '/x' });
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => resolve(b));
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'h2 /x');
  } finally {
    client.close();
  }
});
