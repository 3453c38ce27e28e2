// The short soak (about a minute): an accelerated replay with a dashboard
// open; gateway and page memory must be flat in the second half and no
// queue may grow. The long run is `scripts/soak.sh [MINUTES]`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak, soakFailures } from './soak.mjs';

test('soak (60 s, accelerated): memory flat in gateway and page, queues bounded', async () => {
  const result = await runSoak({ seconds: 60, rate: 3000, interval: 2 });
  console.log(`soak: ${JSON.stringify(result.report)}`);
  assert.deepEqual(soakFailures(result), []);
});
