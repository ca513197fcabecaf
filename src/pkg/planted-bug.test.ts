import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlantedBugs, plantedBug } from './planted-bug';

test('planted bugs: names parse, unknown names are refused, none is planted by default', () => {
  assert.deepEqual([...parsePlantedBugs('')], []);
  assert.deepEqual([...parsePlantedBugs(' drop-watch-event , follower-read-without-readindex ')].sort(), ['drop-watch-event', 'follower-read-without-readindex']);
  assert.throws(() => parsePlantedBugs('drop-watch-event,nope'), /unknown planted bug "nope"/);
  if (process.env.FLOE_PLANTED_BUGS === undefined) assert.equal(plantedBug('drop-watch-event'), false);
});
