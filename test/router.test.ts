// Patterns and converters (Django's meanings), compiled for fastify's router.
import t from 'tap';
import { compilePattern, convertParams } from '../dist/src/router.js';
import { converters, get, route } from 'drover';

t.test('patterns compile to find-my-way URLs', async (t) => {
  t.equal(compilePattern('/hello').routerUrl, '/hello');
  t.equal(compilePattern('/items/<int:id>').routerUrl, '/items/:id(^[0-9]+$)');
  t.equal(compilePattern('/u/<str:name>/edit').routerUrl, '/u/:name/edit');
  t.equal(compilePattern('/files/<path:rest>').routerUrl, '/files/*');
  t.equal(compilePattern('/a:b/<slug:s>').routerUrl, '/a::b/:s(^[-a-zA-Z0-9_]+$)', 'a literal colon is escaped');
  t.same(compilePattern('/items/<int:id>/x').parts, ['/items/', { name: 'id', converter: 'int' }, '/x']);
});

t.test('malformed patterns are coded errors naming the pattern', async (t) => {
  t.throws(() => compilePattern('items'), { code: 'DROVER_ERR_ROUTE_PATTERN', message: /route pattern "items" is invalid: it must be a string starting with "\/"/ });
  t.throws(() => compilePattern('/x/<float:f>'), { code: 'DROVER_ERR_ROUTE_CONVERTER', message: /unknown converter "float"; use one of int, str, slug, uuid, path/ });
  t.throws(() => compilePattern('/x/<int:1d>'), { code: 'DROVER_ERR_ROUTE_PATTERN', message: /parameter name "1d"/ });
  t.throws(() => compilePattern('/x/<int:a>/<int:a>'), { message: /parameter "a" appears twice/ });
  t.throws(() => compilePattern('/x/<path:p>/edit'), { message: /<path:p> must be the last thing/ });
  t.throws(() => compilePattern('/x/<int:a'), { message: /unclosed "<"/ });
  t.throws(() => compilePattern('/x/*'), { message: /may not contain/ });
});

t.test('int: digits only, safe integers only', async (t) => {
  const c = compilePattern('/i/<int:n>');
  t.same(convertParams(c, { n: '42' }), { n: 42 });
  t.same(convertParams(c, { n: '007' }), { n: 7 });
  t.equal(convertParams(c, { n: '9007199254740992' }), undefined, '2^53 is beyond the safe range');
  t.equal(convertParams(c, { n: '-1' }), undefined);
  t.equal(converters.int.format(5), '5');
});

t.test('str, slug, uuid, path', async (t) => {
  const c = compilePattern('/<str:a>/<slug:b>/<uuid:c>/<path:d>');
  const u = '123e4567-e89b-12d3-a456-426614174000';
  t.same(convertParams(c, { a: 'x y', b: 'a-b_c', c: u, '*': 'p/q' }), { a: 'x y', b: 'a-b_c', c: u, d: 'p/q' });
  t.equal(convertParams(c, { a: 'x/y', b: 'a', c: u, '*': 'p' }), undefined, 'str never holds a slash (decoded %2F)');
  t.equal(convertParams(c, { a: '', b: 'a', c: u, '*': 'p' }), undefined, 'str is non-empty');
  t.equal(convertParams(c, { a: 'x', b: 'a.b', c: u, '*': 'p' }), undefined, 'slug refuses dots');
  t.equal(convertParams(c, { a: 'x', b: 'a', c: u.toUpperCase(), '*': 'p' }), undefined, 'uuid is lower-case');
  t.equal(convertParams(c, { a: 'x', b: 'a', c: u, '*': '' }), undefined, 'path is non-empty');
});

t.test('route() validates methods and views at declaration', async (t) => {
  const r = route(['get', 'POST'] as never, '/x', () => 'x', { name: 'x' });
  t.same(r.methods, ['GET', 'POST']);
  t.equal(r.options.name, 'x');
  t.throws(() => route([] as never, '/x', () => 'x'), { code: 'DROVER_ERR_ROUTE_METHOD' });
  t.throws(() => route('FETCH' as never, '/x', () => 'x'), { code: 'DROVER_ERR_ROUTE_METHOD', message: /use one or more of GET, HEAD/ });
  t.throws(() => get('/x', 'not a view' as never), { code: 'DROVER_ERR_ROUTE_VIEW' });
  t.throws(() => get('/x/<nope:y>', () => 'x'), { code: 'DROVER_ERR_ROUTE_CONVERTER' });
});

t.test('params are typed from the pattern literal', async (t) => {
  // A compile-time check that runs too: `id` is a number, `slug` a string.
  const r = get('/a/<int:id>/<slug:slug>', (req) => {
    const id: number = req.params.id;
    const slug: string = req.params.slug;
    return { id, slug };
  });
  t.equal(r.pattern, '/a/<int:id>/<slug:slug>');
});
