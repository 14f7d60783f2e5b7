import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, which .ci/run installs. */
export const CHROMIUM = '/usr/bin/chromium';

/** What the dashboard tests do with a page (a thin layer over playwright-core). */
export interface BrowserPage {
  goto(url: string): Promise<void>;
  /** Wait until an element matches `selector` (throws after `timeoutMs`). */
  waitFor(selector: string, timeoutMs: number): Promise<void>;
  /** Wait until no element matches `selector`. */
  waitForGone(selector: string, timeoutMs: number): Promise<void>;
  count(selector: string): Promise<number>;
  attribute(selector: string, name: string): Promise<string | null>;
  text(selector: string): Promise<string>;
  click(selector: string): Promise<void>;
  screenshot(file: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Headless Chromium (Debian's, not a downloaded build) through playwright-core, with a fresh
 * profile in `userDataDir` and no background traffic: no QUIC, no component updates, no sync.
 */
export async function launchChromium(userDataDir: string): Promise<BrowserPage> {
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1500, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page: Page = context.pages()[0] ?? (await context.newPage());
  return {
    goto: async (url) => void (await page.goto(url)),
    waitFor: async (selector, timeoutMs) => void (await page.waitForSelector(selector, { timeout: timeoutMs, state: 'attached' })),
    waitForGone: async (selector, timeoutMs) => void (await page.waitForSelector(selector, { timeout: timeoutMs, state: 'detached' })),
    count: (selector) => page.locator(selector).count(),
    attribute: (selector, name) => page.locator(selector).first().getAttribute(name),
    text: async (selector) => (await page.locator(selector).first().innerText()) ?? '',
    click: (selector) => page.locator(selector).first().click(),
    screenshot: async (file) => void (await page.screenshot({ path: file })),
    close: () => context.close(),
  };
}
