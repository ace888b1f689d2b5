// The client address: req.ip, req.ips, req.host, req.protocol, and the access log's ip, with
// X-Forwarded-* believed only from proxies TRUST_PROXY trusts.
import t from 'tap';
import { fixture, runDrover, startDrover } from './helpers/server.js';

const forwarded = { 'x-forwarded-for': '203.0.113.7, 198.51.100.2', 'x-forwarded-host': 'shop.example.test', 'x-forwarded-proto': 'https' };

t.test('TRUST_PROXY unset: the socket peer is the client, forwarded headers are ignored', async (t) => {
  const server = await startDrover({ app: fixture('client.js'), env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => server.stop());
  const body = await (await fetch(`${server.url}/who`, { headers: forwarded })).json();
  const host = new URL(server.url).host;
  t.same(body, { ip: '127.0.0.1', ips: ['127.0.0.1'], host, protocol: 'http' });
  const line = await server.waitForLog((l) => l.msg === 'request completed' && l.url === '/who');
  t.equal(line.ip, '127.0.0.1', 'the access line carries the client address');
});

t.test('TRUST_PROXY=1 (the router in front): the address it saw connect, and its Host and proto', async (t) => {
  const server = await startDrover({ app: fixture('client.js'), env: { WEB_CONCURRENCY: '1', TRUST_PROXY: '1' } });
  t.teardown(() => server.stop());
  const body = await (await fetch(`${server.url}/who`, { headers: forwarded })).json();
  t.same(body, { ip: '198.51.100.2', ips: ['127.0.0.1', '198.51.100.2'], host: 'shop.example.test', protocol: 'https' });
  const line = await server.waitForLog((l) => l.msg === 'request completed' && l.url === '/who');
  t.equal(line.ip, '198.51.100.2');
});

t.test('TRUST_PROXY as addresses: a trusted chain gives the first untrusted address', async (t) => {
  const server = await startDrover({ app: fixture('client.js'), env: { WEB_CONCURRENCY: '1', TRUST_PROXY: 'loopback, 198.51.100.0/24' } });
  t.teardown(() => server.stop());
  const body = await (await fetch(`${server.url}/who`, { headers: forwarded })).json();
  t.match(body, { ip: '203.0.113.7', ips: ['127.0.0.1', '198.51.100.2', '203.0.113.7'], host: 'shop.example.test', protocol: 'https' });
});

t.test('a TRUST_PROXY that is not an address stops boot naming it', async (t) => {
  const { code, stderr } = await runDrover(['check', fixture('client.js')], { TRUST_PROXY: 'the router' });
  t.equal(code, 1);
  t.match(stderr, /setting TRUST_PROXY="the router" is invalid: expected false, true, a number of hops, or a comma-separated list of addresses\/CIDRs/);
});
