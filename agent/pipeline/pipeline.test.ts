import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fallbackRouter } from '@helia/fallback-router'
import { trustlessGatewayBlockBroker } from '@helia/trustless-gateway-client'
import { createVerifiedFetch } from '@helia/verified-fetch'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight, type Helia } from 'helia'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  type ResultManifest,
  signVoucher,
  verifyManifest,
} from '../../protocol/index.ts'
import { startGateway } from '../gateway/server.ts'
import { openIpfsNode } from '../ipfs/node.ts'
import { pendingBatches } from '../settle/settle-queue.ts'
import { Spool } from '../spool/spool.ts'
import { advanceJob, resumeAll } from './advance-job.ts'
import { startJob } from './start-job.ts'

/**
 * The local gateway as an ordinary (non-fallback) router: with only fallback routers Helia 7 waits
 * on an empty default-router list until it times out (the REFERENCE's "httpGatewayRouting" note).
 */
function gatewayRouter(url: string) {
  const fb = fallbackRouter({ gateways: [url] })
  return { name: 'local-gateway', findProviders: fb.findProviders!.bind(fb) }
}

const runner = generateMinaKeyPair()
const service = generateMinaKeyPair().publicKey
const user = generateMinaKeyPair().publicKey
const quiet = { write: () => true } as unknown as NodeJS.WritableStream

let dir: string
let helia: Helia
let spool: Spool

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-pipeline-'))
  helia = await openIpfsNode({ dataDir: dir })
  spool = new Spool(dir)
})
afterAll(async () => {
  await helia?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function runAndSeal(
  command: string,
  args: string[],
  artifacts: string[] = [],
  cwd = dir,
  extra: { maxLogBytes?: number; stdout?: NodeJS.WritableStream } = {},
) {
  const jobId = randomBytes(16).toString('hex')
  const outcome = await startJob({
    spool,
    config: {
      intervalMs: 50,
      perf: 'auto',
      cgroup: true,
      ...(extra.maxLogBytes !== undefined ? { maxLogBytes: extra.maxLogBytes } : {}),
    },
    meta: {
      jobId,
      service,
      user,
      sourceCommitment: 'a'.repeat(40),
      command,
      args,
      artifacts,
      cwd,
      createdAt: new Date().toISOString(),
    },
    stdout: (extra.stdout ?? quiet) as never,
    stderr: quiet as never,
  })
  const state = await advanceJob({ spool, helia, runner }, jobId)
  const manifest = JSON.parse(
    await readFile(join(spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
  ) as ResultManifest
  return { jobId, outcome, state, manifest }
}

describe('a job through the pipeline', () => {
  it('a job that writes more than maxLogBytes: its log keeps the first bytes, and the signed manifest says how many were dropped', async () => {
    const cap = 100_000
    // 300,000 bytes on stdout, in many writes; a little on stderr, under the cap.
    const script =
      'i=0; while [ $i -lt 3000 ]; do printf "%099d\\n" $i; i=$((i+1)); done; echo fine >&2'
    let mirrored = 0
    const mirror = {
      write: (b: Buffer) => {
        mirrored += b.length
        return true
      },
    } as unknown as NodeJS.WritableStream
    const { jobId, manifest } = await runAndSeal('sh', ['-c', script], [], dir, {
      maxLogBytes: cap,
      stdout: mirror,
    })
    expect(manifest.exitCode).toBe(0)
    expect(manifest.truncatedLogs).toEqual([
      { file: 'stdout.log', keptBytes: cap, droppedBytes: 300_000 - cap },
    ])
    const kept = await readFile(join(spool.bundleDir(jobId), 'stdout.log'), 'utf8')
    expect(kept.length).toBe(cap)
    expect(kept.startsWith(`${'0'.repeat(99)}\n${'0'.repeat(98)}1\n`)).toBe(true)
    expect(manifest.files.find((f) => f.path === 'stdout.log')?.size).toBe(cap)
    // The CI log (the mirror) still got every byte; stderr was not cut.
    expect(mirrored).toBe(300_000)
    expect(await readFile(join(spool.bundleDir(jobId), 'stderr.log'), 'utf8')).toBe('fine\n')
    const sig = JSON.parse(
      await readFile(join(spool.bundleDir(jobId), 'manifest.sig.json'), 'utf8'),
    )
    expect(verifyManifest(manifest, sig).ok).toBe(true)
  })

  it('missing command: exit 127, still a signed manifest and a pinned bundle', async () => {
    const { state, manifest } = await runAndSeal('zkrunner-no-such-command', [])
    expect(manifest.exitCode).toBe(127)
    expect(state.phase).toBe('pinned')
    expect(
      await helia.pins.isPinned((await import('multiformats/cid')).CID.parse(state.bundleCid!)),
    ).toBe(true)
  })

  it('failing command keeps its exit code and its stderr', async () => {
    const { jobId, manifest } = await runAndSeal('sh', ['-c', 'echo broken >&2; exit 7'])
    expect(manifest.exitCode).toBe(7)
    expect(await readFile(join(spool.bundleDir(jobId), 'stderr.log'), 'utf8')).toBe('broken\n')
  })

  it('a command killed by a signal records the signal', async () => {
    const { manifest } = await runAndSeal('sh', ['-c', 'kill -TERM $$'])
    expect(manifest.exitCode).toBeNull()
    expect(manifest.signal).toBe('SIGTERM')
  })

  it('round trip: pin, serve through the gateway, fetch verified, recompute hashes, verify signature', async () => {
    // 2.5 MiB: three 1 MiB raw leaves under a file node, all pinned without reading the leaves back.
    await writeFile(join(dir, 'artifact.bin'), randomBytes(2_500_000))
    const { state, manifest } = await runAndSeal(
      'sh',
      ['-c', 'echo hello; (echo from-child) ; exit 0'],
      ['artifact.bin'],
    )
    expect(manifest.files.map((f) => f.path)).toEqual([
      'artifacts/artifact.bin',
      'samples.jsonl',
      'stderr.log',
      'stdout.log',
    ])
    const gw = await startGateway(helia, '127.0.0.1:0')
    // A fresh, empty client node that can only get blocks through our gateway.
    const client = await createHeliaLight({
      blockstore: new MemoryBlockstore(),
      blockBrokers: [trustlessGatewayBlockBroker({ allowLocal: true, allowInsecure: true })],
      routers: [gatewayRouter(gw.url)],
    }).start()
    const vfetch = await createVerifiedFetch(client)
    try {
      const read = async (path: string) => {
        const res = await vfetch(`ipfs://${state.bundleCid}/${path}`)
        expect(res.status).toBe(200)
        return new Uint8Array(await res.arrayBuffer())
      }
      const fetched = JSON.parse(
        new TextDecoder().decode(await read('manifest.json')),
      ) as ResultManifest
      const sig = JSON.parse(new TextDecoder().decode(await read('manifest.sig.json')))
      expect(fetched).toEqual(manifest)
      expect(verifyManifest(fetched, sig).ok).toBe(true)
      for (const f of fetched.files) {
        const bytes = await read(f.path)
        expect(bytes.length).toBe(f.size)
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256)
      }
      expect(new TextDecoder().decode(await read('stdout.log'))).toBe('hello\nfrom-child\n')
      const tampered = { ...fetched, exitCode: 1 }
      expect(verifyManifest(tampered, sig).ok).toBe(false)
    } finally {
      await vfetch.stop()
      await client.stop()
      gw.server.close()
    }
  })
})

describe('a job the Worker decided not charged (no result by its deadline)', () => {
  it('is never reported again nor claimed; a job reported in time is', async () => {
    const payer = generateMinaKeyPair()
    const voucher = (amount: number, nonce: number) =>
      signVoucher(
        {
          v: 1,
          user: payer.publicKey,
          service,
          cumulativeAmount: String(amount),
          nonce: String(nonce),
        },
        payer.privateKey,
      )
    const start = async (v: unknown) => {
      const jobId = randomBytes(16).toString('hex')
      await startJob({
        spool,
        config: { intervalMs: 50, perf: 'auto', cgroup: true },
        meta: {
          jobId,
          service,
          user: payer.publicKey,
          sourceCommitment: 'a'.repeat(40),
          command: 'true',
          args: [],
          artifacts: [],
          cwd: dir,
          createdAt: new Date().toISOString(),
          voucher: v,
        },
        stdout: quiet as never,
        stderr: quiet as never,
      })
      return jobId
    }
    const late = await start(voucher(10, 1))
    const inTime = await start(voucher(20, 2))
    // The Worker as it answers: 410 result_too_late for the job whose deadline passed.
    const posted: string[] = []
    const worker = (async (url: URL) => {
      const id = url.pathname.split('/')[3]!
      posted.push(id)
      return id === late
        ? new Response('{"error":{"code":"result_too_late"}}', { status: 410 })
        : new Response('{}', { status: 201 })
    }) as unknown as typeof fetch
    const deps = {
      spool,
      helia,
      runner,
      report: { workerUrl: 'http://worker.invalid', attempts: 3, baseDelayMs: 1, fetch: worker },
    }
    const lateState = await advanceJob(deps, late)
    expect(lateState.notCharged).toBe('no-result')
    expect(lateState.phase).toBe('pinned')
    // One post, no retries: the refusal is final.
    expect(posted).toEqual([late])
    expect((await advanceJob(deps, inTime)).phase).toBe('queued')
    // Neither resume nor the settle queue touches it again.
    posted.length = 0
    const resumed = await resumeAll(deps)
    expect(resumed.map((r) => r.jobId)).not.toContain(late)
    expect(posted).not.toContain(late)
    const batches = await pendingBatches(spool, { user: payer.publicKey })
    expect(batches.flatMap((b) => b.jobs.map((j) => j.jobId))).toEqual([inTime])
  })
})
