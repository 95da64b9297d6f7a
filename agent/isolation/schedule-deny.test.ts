import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ensureSystemUser } from './job-user.ts'
import { denyScheduling } from './schedule-deny.ts'

// Attack (review of job scopes, issue 14, low): a job's `crontab` or `at` entry runs its code as
// the job user after the job has ended, outside its scope, beside the next job of that user.

const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

async function fakeRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'zkrunner-deny-'))
  dirs.push(root)
  await mkdir(join(root, 'etc'))
  return root
}

describe('cron and at are denied to job users', () => {
  it('creates cron.deny and at.deny 0644 with the user when absent, once however often it runs', async () => {
    const root = await fakeRoot()
    denyScheduling('zkrunner-test-iso-a', root)
    denyScheduling('zkrunner-test-iso-a', root)
    for (const f of ['etc/cron.deny', 'etc/at.deny']) {
      expect(await readFile(join(root, f), 'utf8')).toBe('zkrunner-test-iso-a\n')
      expect((await stat(join(root, f))).mode & 0o777).toBe(0o644)
    }
  })

  it("keeps the operator's lines (a last line without a newline too) and adds the user once", async () => {
    const root = await fakeRoot()
    await writeFile(join(root, 'etc/cron.deny'), 'guest\n  zkrunner-test-iso-b  \n')
    await writeFile(join(root, 'etc/at.deny'), 'daemon\nnobody')
    denyScheduling('zkrunner-test-iso-b', root)
    denyScheduling('zkrunner-test-iso-c', root)
    expect(await readFile(join(root, 'etc/cron.deny'), 'utf8')).toBe(
      'guest\n  zkrunner-test-iso-b  \nzkrunner-test-iso-c\n',
    )
    expect(await readFile(join(root, 'etc/at.deny'), 'utf8')).toBe(
      'daemon\nnobody\nzkrunner-test-iso-b\nzkrunner-test-iso-c\n',
    )
  })

  it.skipIf(process.getuid?.() !== 0)(
    'ensureSystemUser puts the user it makes in /etc/cron.deny and /etc/at.deny',
    async () => {
      const user = ensureSystemUser('zkrunner-test-iso-deny')
      for (const f of ['/etc/cron.deny', '/etc/at.deny']) {
        const lines = (await readFile(f, 'utf8')).split('\n')
        expect(lines.filter((l) => l === user.name)).toHaveLength(1)
      }
    },
  )
})
