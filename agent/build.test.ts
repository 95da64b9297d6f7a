import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateMinaKeyPair } from '../protocol/index.ts'

// The agent as a runner host runs it: `npm run build` (tsc, then an esbuild bundle), then plain
// Node on the bundle. Built into its own directory inside the checkout, so the local stack's
// dist/agent (which a running gateway may be loading chunks from) is never replaced under it.

const execFileP = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const NODE = join(root, 'node_modules/.bin/node')
const out = join(root, 'dist', `test-build-${process.pid}`)
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-build-'))
  await execFileP(NODE, [join(root, 'scripts/build-agent.mjs'), '--out', out])
}, 120_000)
afterAll(async () => {
  await rm(out, { recursive: true, force: true })
  await rm(dir, { recursive: true, force: true })
  await rm(`${dir}-data`, { recursive: true, force: true })
})

async function built(args: string[]) {
  try {
    const r = await execFileP(NODE, [join(out, 'agent/cli.js'), ...args], {
      // GitLab Runner calls the agent from its builds directory, not from the checkout (and never
      // from a directory that holds the agent's data: the agent refuses that).
      cwd: dir,
      env: {
        ...process.env,
        ZKRUNNER_DATA_DIR: `${dir}-data`,
        ZKRUNNER_WORKER_URL: 'http://127.0.0.1:9',
        ZKRUNNER_REPORT_ATTEMPTS: '1',
        ZKRUNNER_METRICS_LISTEN: '',
      },
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

describe('the built agent (npm run build)', () => {
  it('leaves libp2p out of what the offline agent loads', async () => {
    // Chunks loaded statically from cli.js and by `run` must not contain libp2p; only the
    // `--announce` path (createHelia) may.
    const files = (await readdir(join(out, 'agent'))).filter((f) => f.endsWith('.js'))
    const cli = await readFile(join(out, 'agent/cli.js'), 'utf8')
    const statics = [...cli.matchAll(/from "\.\/(chunk-[\w-]+\.js)"/g)].map((m) => m[1]!)
    expect(statics.length).toBeGreaterThan(0)
    for (const chunk of statics) {
      expect(files).toContain(chunk)
      expect(await readFile(join(out, 'agent', chunk), 'utf8')).not.toMatch(/@libp2p\/tcp|yamux/)
    }
    // The IPFS node's own chunk and everything it imports statically.
    const node = files.find((f) => f.startsWith('node-'))
    expect(node, 'the IPFS node module has its own chunk').toBeDefined()
    const text = await readFile(join(out, 'agent', node!), 'utf8')
    for (const chunk of [
      node!,
      ...[...text.matchAll(/from "\.\/(chunk-[\w-]+\.js)"/g)].map((m) => m[1]!),
    ])
      expect(await readFile(join(out, 'agent', chunk), 'utf8')).not.toMatch(/@libp2p\/tcp|yamux/)
    // ...and the announcing node is a bundle of its own that loads.
    const announcing = await import(join(out, 'agent/announcing-node.js'))
    expect(typeof announcing.createAnnouncingNode).toBe('function')
  })

  it('answers --help and runs a job to a pinned, signed bundle from another directory', async () => {
    expect((await built(['--help'])).stdout).toMatch(/Usage: zkrunner-agent/)
    expect((await built(['keygen'])).code).toBe(0)
    const key = generateMinaKeyPair().publicKey
    const run = await built([
      'run',
      '--service',
      key,
      '--user',
      key,
      '--source-commitment',
      'c'.repeat(40),
      '--',
      'sh',
      '-c',
      'echo built agent',
    ])
    // The Worker URL is unreachable: the job is pinned and kept for a later report.
    expect(run.stdout).toContain('built agent')
    expect(run.stderr).toMatch(/kept in the spool/)
    const status = await built(['status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^[0-9a-f]{32} pinned bafy\w+/m)
  })

  it('loads `call` from its own bundle, which refuses with its code when no budget is set', async () => {
    const r = await built(['call', generateMinaKeyPair().publicKey, '--wait'])
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(
      /^zkrunner-agent: CALL_BUDGET_EXHAUSTED: this runner has no call budget/,
    )
  })

  it('fails with one line and a non-zero exit on a bad option', async () => {
    const r = await built(['run', '--interval', 'soon', '--', 'true'])
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
