// Headers with several values, cookies (parsed, set with every attribute, signed with SECRET_KEY),
// and response headers that are not legal HTTP: a coded 500 naming the route and the header.
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('cookies.js'), env: { WEB_CONCURRENCY: '1', SECRET_KEY: 'a-long-random-secret-for-tests' } });
t.teardown(() => server.stop());

t.test('cookies are set with every attribute, one Set-Cookie line each, signed with SECRET_KEY', async (t) => {
  const res = await fetch(`${server.url}/login`);
  t.equal(res.status, 200);
  const [user, theme] = res.headers.getSetCookie();
  t.match(user, /^user=s%3Aada\.[^;]+; Max-Age=3600; Path=\/; HttpOnly; Secure; Partitioned; SameSite=Strict$/);
  t.equal(theme, 'theme=dark; Domain=example.test; Path=/app; Expires=Tue, 01 Jan 2030 00:00:00 GMT; SameSite=Lax');
});

t.test('req.cookies and req.signedCookie() read them back; a tampered signature reads as missing', async (t) => {
  const login = await fetch(`${server.url}/login`);
  const signed = (login.headers.getSetCookie()[0] as string).split(';')[0] as string;
  const ok = await (await fetch(`${server.url}/whoami`, { headers: { cookie: `${signed}; theme=dark` } })).json();
  t.match(ok, { cookies: { theme: 'dark' }, user: 'ada' });
  const forged = signed.replace('ada', 'eve');
  t.match(await (await fetch(`${server.url}/whoami`, { headers: { cookie: forged } })).json(), { user: null });
  t.same(await (await fetch(`${server.url}/whoami`)).json(), { cookies: {}, user: null });
});

t.test('withoutCookie deletes it', async (t) => {
  const res = await fetch(`${server.url}/logout`, { redirect: 'manual' });
  t.equal(res.status, 302);
  t.match(res.headers.getSetCookie()[0], /^user=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax$/);
});

t.test('a header with several values', async (t) => {
  const res = await fetch(`${server.url}/links`);
  t.equal(res.headers.get('link'), '</a>; rel="next", </b>; rel="prev"');
  t.equal(res.headers.get('vary'), 'accept, cookie');
});

for (const [path, header] of [
  ['/split', 'x-evil'],
  ['/badname', '"bad name"'],
] as const) {
  t.test(`${path}: a header that is not legal HTTP is a coded 500 naming the route and the header`, async (t) => {
    const res = await fetch(`${server.url}${path}`);
    t.equal(res.status, 500);
    t.match(await res.json(), { error: 'Internal Server Error', status: 500 });
    t.equal(res.headers.getSetCookie().length, 0, 'no injected header');
    const line = await server.waitForLog((l) => l.msg === 'view failed' && l.route === path);
    t.match(line.err, { code: 'DROVER_ERR_RESPONSE_HEADER', message: new RegExp(`route ${path}: response header ${header} is not legal HTTP`) });
  });
}

t.test('signing without SECRET_KEY is a coded error saying to set it', async (t) => {
  const bare = await startDrover({ app: fixture('cookies.js'), env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => bare.stop());
  t.equal((await fetch(`${bare.url}/login`)).status, 500);
  const line = await bare.waitForLog((l) => l.msg === 'view failed');
  t.match(line.err, { code: 'DROVER_ERR_SECRET_KEY', message: /the signed cookie "user" needs the SECRET_KEY setting/ });
});
