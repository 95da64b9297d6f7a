import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The files cron and at read to refuse a user its own scheduled jobs. */
export const DENY_FILES = ['etc/cron.deny', 'etc/at.deny'] as const

/**
 * Puts `name` in `/etc/cron.deny` and `/etc/at.deny` (under `root`, `/` unless a test's), creating
 * them 0644 when absent; a line already there is not added twice. A job user's crontab or `at`
 * job would run the job's code after its end, outside its scope, beside the next job of the user.
 * (Where an `*.allow` file exists cron and at ignore the deny file, and a user not in the allow
 * file is refused already.)
 */
export function denyScheduling(name: string, root = '/'): void {
  if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) throw new Error(`user name ${JSON.stringify(name)}`)
  for (const file of DENY_FILES) {
    const path = join(root, file)
    let text = ''
    try {
      text = readFileSync(path, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    const lines = text.split('\n').map((l) => l.trim())
    if (lines.includes(name)) continue
    const sep = text === '' || text.endsWith('\n') ? '' : '\n'
    writeFileSync(path, `${text}${sep}${name}\n`, { mode: 0o644 })
  }
}
