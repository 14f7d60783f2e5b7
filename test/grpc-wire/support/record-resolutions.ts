/**
 * Test-only preload (`node --import`): records every module specifier the process resolves, with
 * the URL it resolved to, one tab-separated line each, appended to the file named by
 * MIZZEN_TEST_RESOLUTIONS. Lets a test prove which packages a child process never loaded,
 * without any debug hook in the product.
 */
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.MIZZEN_TEST_RESOLUTIONS;
if (out) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const r = nextResolve(specifier, context);
      appendFileSync(out, `${specifier}\t${r.url}\n`);
      return r;
    },
  });
}
