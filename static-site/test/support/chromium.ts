import { type BrowserContext, chromium } from 'playwright-core'

/** Debian's Chromium (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Headless Chromium on a fresh profile directory (launchPersistentContext is how Playwright takes
 * a user-data dir), without the background traffic a CI machine has no network for.
 */
export function launchChromium(
  profile: string,
  viewport: { width: number; height: number } = { width: 1200, height: 1600 },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
