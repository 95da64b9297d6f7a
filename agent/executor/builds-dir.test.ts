import { existsSync } from 'node:fs'
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AgentErrorCode } from '../errors.ts'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { ensureJobDir, prepareBuildsDir } from './builds-dir.ts'

// Root prepares a directory the job user owns: no link of the user's is ever followed.
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-iso-fresh') : undefined

let base: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-builds-dir-'))
  await chmod(base, 0o755)
})
afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

describe.skipIf(!jobUser)('the builds dir, prepared as root', () => {
  it('refuses a path through a symbolic link or a directory of the job user, naming it', async () => {
    await mkdir(join(base, 'real'))
    await symlink(join(base, 'real'), join(base, 'link'))
    await expect(prepareBuildsDir(join(base, 'link', 'builds'), jobUser!)).rejects.toMatchObject({
      code: AgentErrorCode.INVALID_CONFIG,
      message: expect.stringContaining(`${join(base, 'link')} is a symbolic link`),
    })
    await mkdir(join(base, 'theirs'))
    await chown(join(base, 'theirs'), jobUser!.uid, jobUser!.gid)
    await expect(prepareBuildsDir(join(base, 'theirs', 'builds'), jobUser!)).rejects.toMatchObject({
      code: AgentErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('belongs to the job user'),
    })
    expect(existsSync(join(base, 'real', 'builds'))).toBe(false)
    expect(existsSync(join(base, 'theirs', 'builds'))).toBe(false)
  })

  it("removes the job user's link in its place, never a link of another owner", async () => {
    const target = join(base, 'target')
    await mkdir(target)
    const builds = join(base, 'builds')
    await symlink(target, builds)
    // Root's own link (the operator's configuration): refused, not removed.
    await expect(prepareBuildsDir(builds, jobUser!, () => {})).rejects.toMatchObject({
      code: AgentErrorCode.INVALID_CONFIG,
    })
    expect((await lstat(builds)).isSymbolicLink()).toBe(true)
    const { execFileSync } = await import('node:child_process')
    execFileSync('chown', ['-h', `${jobUser!.uid}:${jobUser!.gid}`, builds])
    const said: string[] = []
    await prepareBuildsDir(builds, jobUser!, (l) => said.push(l))
    expect(said.join('\n')).toContain('removed a symbolic link')
    const made = await lstat(builds)
    expect(made.isDirectory()).toBe(true)
    expect(made.uid).toBe(jobUser!.uid)
    expect((await lstat(target)).uid).toBe(0)
  })

  it("makes the job's directory as the job user: a link planted by an earlier stage leads nowhere it could not write", async () => {
    const builds = join(base, 'builds')
    await prepareBuildsDir(builds, jobUser!)
    const rootOnly = join(base, 'root-only')
    await mkdir(rootOnly, { mode: 0o755 })
    await writeFile(join(rootOnly, 'keep'), 'x')
    // What get_sources, as the job user, could leave: a link to a directory only root may write.
    const { execFileSync } = await import('node:child_process')
    execFileSync('setpriv', [
      `--reuid=${jobUser!.uid}`,
      `--regid=${jobUser!.gid}`,
      '--clear-groups',
      'ln',
      '-s',
      rootOnly,
      join(builds, 'glrt'),
    ])
    await expect(ensureJobDir(join(builds, 'glrt', 'group', 'project'), jobUser!)).rejects.toThrow(
      /could not make the job's directory/,
    )
    expect(existsSync(join(rootOnly, 'group'))).toBe(false)
    // Its own directory is made as before, the user's.
    await ensureJobDir(join(builds, 'g', 'project'), jobUser!)
    expect((await lstat(join(builds, 'g', 'project'))).uid).toBe(jobUser!.uid)
  })
})
