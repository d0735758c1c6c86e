// The Docker lab's errors say what is wrong and what to run (no daemon needed for this test).
import { test, expect } from 'vitest';
import Docker from 'dockerode';
import { dockerSkipReason, findImage } from '../../src/lab/docker-site.ts';

test('no daemon: the reason names the socket and says how to start one', async () => {
  const none = new Docker({ socketPath: '/nonexistent/nfconform-test.sock' });
  const why = await dockerSkipReason(none);
  expect(why).toMatch(/no Docker daemon answers \(connect ENOENT \/nonexistent\/nfconform-test\.sock\)/);
  expect(why).toMatch(/dockerd --iptables=false --bridge=none/);
  await expect(findImage(none)).rejects.toThrow(/no Docker daemon answers/);
});
