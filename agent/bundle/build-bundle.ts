import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { type UnixFS, unixfs } from '@helia/unixfs'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import {
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  type ManifestFile,
  type ManifestSignature,
  manifestBytes,
  parseResultManifest,
  type ResultManifest,
  requestDigest,
  signManifest,
} from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { leafSkippingWalker } from '../ipfs/pin-walker.ts'
import type { SamplingSummary } from '../sampling/sampler.ts'
import type { JobMeta, JobState } from '../spool/spool.ts'
import { writeDurable } from '../spool/spool.ts'
import { hashAndImport } from './hash-file.ts'

/** Name of the samples time series inside a bundle (format in sampling/samples.ts and the README). */
export const SAMPLES_FILE = 'samples.jsonl'

/** Progress of hashing and importing, in bytes. */
export type BytesProgress = (done: number, total: number) => void

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const rel = relative(dir, join(e.parentPath, e.name)).split(sep).join('/')
    if (rel === MANIFEST_FILE || rel === MANIFEST_SIGNATURE_FILE) continue
    out.push(rel)
  }
  return out.sort()
}

/** Turns the sampler's summary into the manifest's sampling section. */
export function manifestSampling(s: SamplingSummary): ResultManifest['sampling'] {
  const events: ResultManifest['sampling']['events'] = []
  for (const e of s.perfEvents) {
    const supported = !s.notSupported.includes(e)
    events.push({
      event: e,
      supported,
      total: supported ? (s.perfTotals[e] ?? 0) : null,
      unit: e === 'task-clock' ? 'msec' : '',
    })
  }
  events.push({ event: 'cpu-time', supported: true, total: s.cpuMs, unit: 'msec' })
  events.push({ event: 'peak-rss', supported: true, total: s.peakRssBytes, unit: 'bytes' })
  events.push({
    event: 'cgroup-peak-memory',
    supported: s.cgroupPeakMemoryBytes !== null,
    total: s.cgroupPeakMemoryBytes,
    unit: 'bytes',
  })
  return {
    source: s.source,
    intervalMs: s.intervalMs,
    sampleCount: Math.max(0, s.records - 1),
    events,
    samplesPath: SAMPLES_FILE,
  }
}

/** A manifest, its signature and the CIDs of the bundle's files. */
export interface SealedBundle {
  manifest: ResultManifest
  signature: ManifestSignature
  fileCids: Map<string, CID>
}

/**
 * Hashes and imports every file of the bundle directory, then writes and signs the manifest.
 * Idempotent: the importer is deterministic, so running it again after a crash gives the same CIDs.
 */
export async function sealBundle(args: {
  helia: Pick<Helia, 'blockstore'>
  bundleDir: string
  meta: JobMeta
  outcome: NonNullable<JobState['outcome']>
  sampling: SamplingSummary
  runner: { publicKey: string; privateKey: string }
  skippedArtifacts?: JobState['skippedArtifacts']
  truncatedLogs?: JobState['truncatedLogs']
  outputs?: JobState['outputs']
  innerJobs?: JobState['innerJobs']
  notRun?: JobState['notRun']
  onProgress?: BytesProgress
}): Promise<SealedBundle> {
  const fs = unixfs(args.helia as Helia)
  const paths = await listFiles(args.bundleDir)
  let total = 0
  for (const p of paths) total += (await stat(join(args.bundleDir, p))).size
  let done = 0
  const files: ManifestFile[] = []
  const fileCids = new Map<string, CID>()
  for (const p of paths) {
    const h = await hashAndImport(fs, join(args.bundleDir, p), (n) => {
      done += n
      args.onProgress?.(done, total)
    })
    files.push({ path: p, size: h.size, sha256: h.sha256, cid: h.cid.toString() })
    fileCids.set(p, h.cid)
  }
  const candidate = {
    v: 1,
    jobId: args.meta.jobId,
    service: args.meta.service,
    sourceCommitment: args.meta.sourceCommitment,
    runner: args.runner.publicKey,
    user: args.meta.user,
    requestDigest: requestDigest({
      requestId: args.meta.jobId,
      service: args.meta.service,
      user: args.meta.user,
      parameters: args.meta.parameters ?? {},
      ...(args.meta.callPath?.length ? { callPath: args.meta.callPath } : {}),
    }),
    exitCode: args.outcome.exitCode,
    signal: args.outcome.signal,
    startedAt: args.outcome.startedAt,
    endedAt: args.outcome.endedAt,
    wallMs: args.outcome.wallMs,
    cpuMs: Math.round(args.sampling.cpuMs),
    peakRssBytes: Math.max(args.sampling.peakRssBytes, args.sampling.cgroupPeakMemoryBytes ?? 0),
    sampling: manifestSampling(args.sampling),
    files,
    ...(args.skippedArtifacts?.length ? { skippedArtifacts: args.skippedArtifacts } : {}),
    ...(args.notRun ? { notRun: args.notRun } : {}),
    ...(args.truncatedLogs?.length ? { truncatedLogs: args.truncatedLogs } : {}),
    ...(args.outputs ? { outputs: args.outputs } : {}),
    ...(args.innerJobs?.length ? { innerJobs: args.innerJobs } : {}),
    ...(args.meta.mode
      ? { ran: { mode: args.meta.mode, command: [args.meta.command, ...args.meta.args] } }
      : {}),
  }
  const parsed = parseResultManifest(candidate)
  if (!parsed.ok)
    throw new AgentError(AgentErrorCode.BUNDLE_INVALID, `manifest: ${parsed.error.message}`)
  const manifest = parsed.value
  const signature = signManifest(manifest, args.runner.privateKey)
  // Exactly the canonical bytes the signature covers: verifiers refuse any other spelling.
  await writeDurable(join(args.bundleDir, MANIFEST_FILE), manifestBytes(manifest))
  await writeDurable(
    join(args.bundleDir, MANIFEST_SIGNATURE_FILE),
    `${JSON.stringify(signature, null, 2)}\n`,
  )
  return { manifest, signature, fileCids }
}

type Tree = Map<string, CID | Tree>

async function buildDir(fs: UnixFS, tree: Tree): Promise<CID> {
  let dir = await fs.addDirectory()
  for (const [name, node] of [...tree.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const cid = node instanceof Map ? await buildDir(fs, node) : node
    dir = await fs.cp(cid, dir, name)
  }
  return dir
}

/**
 * Imports the manifest and its signature, links every file into one UnixFS directory and pins it.
 * Files already imported by sealBundle are linked by CID, not read again.
 */
export async function pinBundle(args: {
  helia: Pick<Helia, 'blockstore' | 'pins'>
  bundleDir: string
  fileCids?: Map<string, CID>
  /** Called with the number of blocks pinned so far. */
  onBlock?: (blocks: number) => void
}): Promise<CID> {
  const fs = unixfs(args.helia as Helia)
  const paths = await listFiles(args.bundleDir)
  const cids = new Map(args.fileCids ?? [])
  for (const p of [...paths, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE]) {
    if (!cids.has(p)) cids.set(p, (await hashAndImport(fs, join(args.bundleDir, p))).cid)
  }
  const root: Tree = new Map()
  for (const [p, cid] of cids) {
    const parts = p.split('/')
    let node = root
    for (const part of parts.slice(0, -1)) {
      let next = node.get(part)
      if (!(next instanceof Map)) {
        next = new Map()
        node.set(part, next)
      }
      node = next
    }
    node.set(parts[parts.length - 1]!, cid)
  }
  const dir = await buildDir(fs, root)
  let pinned = 0
  for await (const _ of args.helia.pins.add(dir, { walker: leafSkippingWalker }))
    args.onBlock?.(++pinned)
  return dir
}

/** Reads the manifest and signature a sealed bundle directory holds. */
export async function readSealed(
  bundleDir: string,
): Promise<{ manifest: ResultManifest; signature: ManifestSignature }> {
  const manifest = JSON.parse(
    await readFile(join(bundleDir, MANIFEST_FILE), 'utf8'),
  ) as ResultManifest
  const signature = JSON.parse(
    await readFile(join(bundleDir, MANIFEST_SIGNATURE_FILE), 'utf8'),
  ) as ManifestSignature
  return { manifest, signature }
}
