// reverse(): paths from route names; bad names and params are coded errors naming the route.
import t from 'tap';
import { get, reverse } from 'drover';
import { setReverseTable } from '../dist/src/app/reverse.js';

setReverseTable([
  get('/items/<int:id>', () => 'x', { name: 'item' }),
  get('/u/<str:user>/files/<path:rest>', () => 'x', { name: 'file' }),
  get('/tag/<slug:tag>', () => 'x', { name: 'tag' }),
  get('/doc/<uuid:u>', () => 'x', { name: 'doc' }),
  get('/about', () => 'x', { name: 'about' }),
]);

t.test('builds paths, formatting and quoting values', async (t) => {
  t.equal(reverse('about'), '/about');
  t.equal(reverse('item', { id: 7 }), '/items/7');
  t.equal(reverse('file', { user: 'zoë b', rest: 'a b/c.txt' }), '/u/zo%C3%AB%20b/files/a%20b/c.txt');
  t.equal(reverse('tag', { tag: 'big-news_1' }), '/tag/big-news_1');
  t.equal(reverse('doc', { u: '123e4567-e89b-12d3-a456-426614174000' }), '/doc/123e4567-e89b-12d3-a456-426614174000');
});

t.test('errors name the route and say what is wrong', async (t) => {
  t.throws(() => reverse('nope'), { code: 'DROVER_ERR_REVERSE_NAME', message: /no route is named "nope"; named routes: "item", "file"/ });
  t.throws(() => reverse('item'), { code: 'DROVER_ERR_REVERSE_PARAM', message: 'reverse("item") for pattern /items/<int:id>: missing parameter "id"' });
  t.throws(() => reverse('item', { id: 'seven' }), { message: /parameter "id" must be a non-negative safe integer, got "seven"/ });
  t.throws(() => reverse('item', { id: 1.5 }), { message: /non-negative safe integer/ });
  t.throws(() => reverse('item', { id: 7, extra: 1 }), { message: /unexpected parameter\(s\) extra/ });
  t.throws(() => reverse('tag', { tag: 'no spaces' }), { message: /parameter "tag" does not fit <slug:tag>/ });
  t.throws(() => reverse('doc', { u: 'NOT-A-UUID' }), { message: /does not fit <uuid:u>/ });
  t.throws(() => reverse('file', { user: 'a/b', rest: 'x' }), { message: /does not fit <str:user>/ });
});
