import { execFile, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// `npm run chain` is `node --import ./scripts/swc-register.mjs chain/cli.ts`; run it the same way.

const ROOT = resolve(import.meta.dirname, '../..')
const CLI = ['--import', './scripts/swc-register.mjs', 'chain/cli.ts']
const run = promisify(execFile)

describe('npm run chain', () => {
  it('prints its options with --help', async () => {
    const { stdout } = await run(process.execPath, [...CLI, '--help'], { cwd: ROOT })
    expect(stdout).toMatch(/--port <port>/)
    expect(stdout).toMatch(/ZKRUNNER_CHAIN_PORT/)
    expect(stdout).toMatch(/--state-file <path>/)
  })

  it('exits non-zero with a one-line reason on a bad option', async () => {
    const failed = await run(process.execPath, [...CLI, '--port', 'eighty'], { cwd: ROOT }).catch(
      (err: { code: number; stderr: string }) => err,
    )
    expect('code' in failed && failed.code).toBe(1)
    expect('stderr' in failed && failed.stderr.trim()).toMatch(
      /^chain: CONFIG_INVALID: invalid option port/,
    )
  })

  it('serves the daemon API, prints dev accounts, and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [...CLI, '--port', '0', '--accounts', '2', '--manual-slots'],
      {
        cwd: ROOT,
        env: { ...process.env, ZKRUNNER_CHAIN_SEED: 'cli-test' },
      },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
    try {
      const deadline = Date.now() + 120_000
      while (!/Dev accounts/.test(out) || !/private key:.*\n.*\n.*private key/.test(out)) {
        if (Date.now() > deadline) throw new Error(`node did not start:\n${out}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const url = /Mina GraphQL \(daemon\):\s+(\S+)/.exec(out)?.[1] ?? ''
      expect(out).toMatch(/\(0\) B62q/)
      expect(out).toMatch(/\(1\) B62q/)
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ networkID daemonStatus { syncStatus } }' }),
      })
      expect(await res.json()).toEqual({
        data: { networkID: 'mina:devnet', daemonStatus: { syncStatus: 'SYNCED' } },
      })
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  })
})
