import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEPLOY_ERROR_CODES, DeployConfigSchema } from '../contracts/deploy-config.ts'
import { parseServiceDescriptor } from '../protocol/index.ts'
import { parseConfig } from '../static-site/src/config.ts'
import { ApiErrorCode } from '../worker/errors.ts'
import { WORKER_SETTINGS } from '../worker/settings.ts'

// The READMEs and example configs are what a new operator follows: they must say what the code
// does. These checks keep the lists of codes and the examples from drifting apart from it.

const root = join(import.meta.dirname, '..')
const read = (path: string) => readFile(join(root, path), 'utf8')

/** The backticked words of the paragraph of `text` that starts with `start` (up to a blank line). */
function codesIn(text: string, start: string, pattern: RegExp): string[] {
  const at = text.indexOf(start)
  if (at < 0) throw new Error(`no paragraph starting "${start}"`)
  const end = text.indexOf('\n\n', at)
  const paragraph = text.slice(at, end < 0 ? undefined : end)
  return [...paragraph.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((w) => pattern.test(w))
}

describe('docs agree with the code', () => {
  it("the Worker README lists exactly the Worker's error codes", async () => {
    const listed = codesIn(await read('worker/README.md'), 'Every error is', /^[a-z]+(_[a-z]+)*$/)
    expect(new Set(listed)).toEqual(new Set(Object.values(ApiErrorCode)))
  })

  it("the README lists exactly the operator command's error codes", async () => {
    const listed = codesIn(
      await read('README.md'),
      'Errors of `offer` and `retire`',
      /^[A-Z]+(_[A-Z]+)*$/,
    )
    expect(new Set(listed.filter((c) => c !== 'CODE'))).toEqual(new Set(DEPLOY_ERROR_CODES))
  })

  it('deploy.example.json parses as the deploy command reads it', async () => {
    const parsed = DeployConfigSchema.safeParse(JSON.parse(await read('deploy.example.json')))
    expect(parsed.error?.issues ?? []).toEqual([])
  })

  it('.dev.vars.example names only settings the Worker reads', async () => {
    const names = [...(await read('.dev.vars.example')).matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map(
      (m) => m[1],
    )
    expect(names.length).toBeGreaterThan(0)
    for (const name of names) expect(WORKER_SETTINGS).toContain(name)
  })

  it('every example descriptor parses', async () => {
    const dirs = await readdir(join(root, 'examples'))
    const descriptors = dirs.map((d) => `examples/${d}/service.json`)
    expect(descriptors.length).toBeGreaterThan(0)
    for (const path of descriptors) {
      const parsed = parseServiceDescriptor(JSON.parse(await read(path)))
      expect(parsed.ok ? path : `${path}: ${parsed.error.message}`).toBe(path)
    }
  })

  it("the page's placeholder config.json parses and points at the local stack's ports", async () => {
    const config = parseConfig(JSON.parse(await read('static-site/public/config.json')))
    expect(new URL(config.minaGraphqlUrl).port).toBe('3085')
    expect(new URL(config.archiveUrl).port).toBe('3085')
    expect(config.networkId).toBe('devnet')
  })
})
