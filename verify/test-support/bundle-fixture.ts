import { unixfs } from '@helia/unixfs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { Field, Poseidon } from 'o1js'
import {
  canonicalBytes,
  checkOutputs,
  cidToFields,
  digestToFields,
  encodeHeartbeat,
  encodeTerms,
  fromBase64url,
  generateMinaKeyPair,
  type InnerJob,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  type ManifestOutputs,
  type ManifestSignature,
  type MinaKeyPair,
  manifestBytes,
  type OutputSpec,
  type ParameterSpec,
  privateCommitment,
  publicKeyToFields,
  type RequestBinding,
  type ResultManifest,
  requestDigest,
  type ServiceDescriptor,
  sha256,
  signManifest,
  sourceCommitmentToField,
  toHex,
  unwrap,
  validateParameters,
} from '../../protocol/index.ts'

/**
 * How a fixture bundle is spoiled, to check that the page names the broken link. Two are signed by
 * the genuine runner: a duplicate key in the stored bytes (JSON.parse keeps the last
 * value, another reader the first), and a lone surrogate in a file path.
 */
export type BundleVariant =
  | 'good'
  | 'tampered-file'
  | 'wrong-signature'
  | 'wrong-source'
  | 'duplicate-key'
  | 'lone-surrogate'
  /** Signed and intact, but its agent died: not payable. */
  | 'agent-lost'
  /** Signed and intact, but the job wrote an output its service does not declare and missed one. */
  | 'outputs-invalid'
  /** Signed by the runner, but its outputs are laid out unlike the descriptor's declarations. */
  | 'outputs-undeclared'
  /** Signed and intact; the runner cut its stdout at its cap and says how much it dropped. */
  | 'truncated-logs'

/** The keys, descriptor and on-chain state of one service version, shared by its bundles. */
export interface ServiceFixture {
  address: string
  runner: MinaKeyPair
  user: MinaKeyPair
  descriptor: ServiceDescriptor
  descriptorCid: CID
  sourceCommitment: string
  /** The service contract's 8 state fields, as the chain double answers them. */
  state: bigint[]
}

const RAW = 0x55

/** The opening of the private fixture services' commitment (what a reveal publishes). */
export const PRIVATE_OPENING = {
  salt: '1d'.repeat(31),
  providerUrl: 'https://gitlab.secret.example',
  project: 'acme/secret-benchmarks',
  commit: 'c0ffee0000000000000000000000000000000042',
}
const enc = new TextEncoder()

/** A service version whose descriptor block is put into `blocks` (raw CID of its canonical JSON). */
export async function serviceFixture(
  blocks: MemoryBlockstore,
  opts: {
    workerPublicKey: string
    user?: MinaKeyPair
    slot?: bigint
    name?: string
    price?: bigint
    /** A private service: coordinates left out, PRIVATE_OPENING committed with Poseidon. */
    visibility?: 'private'
    /** A private service's reveal goal in credits (the descriptor's revealGoal). */
    revealGoal?: bigint
    /** Output declarations of the descriptor (none when absent). */
    outputs?: OutputSpec[]
    /** Parameters of the descriptor (SUITE, REPEAT, FILTER and VERBOSE when absent). */
    parameters?: ParameterSpec[]
  },
): Promise<ServiceFixture> {
  const runner = generateMinaKeyPair()
  const user = opts.user ?? generateMinaKeyPair()
  const address = generateMinaKeyPair().publicKey
  const priv = opts.visibility === 'private'
  const sourceCommitment = priv
    ? privateCommitment(PRIVATE_OPENING)
    : 'c0ffee0000000000000000000000000000000042'
  const descriptor: ServiceDescriptor = {
    v: 1,
    name: opts.name ?? 'unit tests (node 22)',
    description: 'Runs the project test suite.',
    provider: 'gitlab',
    ...(priv
      ? {
          visibility: 'private' as const,
          ...(opts.revealGoal !== undefined ? { revealGoal: String(opts.revealGoal) } : {}),
        }
      : { providerUrl: 'http://127.0.0.1:1/', project: 'zkrunner/demo', ref: 'main', job: 'test' }),
    sourceCommitment,
    pricePerJob: String(opts.price ?? 5n),
    runnerPublicKey: runner.publicKey,
    workerPublicKey: opts.workerPublicKey,
    parameters: opts.parameters ?? [
      {
        name: 'SUITE',
        type: 'enum',
        values: ['unit', 'integration'],
        required: true,
        default: 'unit',
      },
      { name: 'REPEAT', type: 'integer', min: 1, max: 5, required: true, default: 1 },
      { name: 'FILTER', type: 'string', maxLength: 40, pattern: '[a-z-]*', required: false },
      { name: 'VERBOSE', type: 'boolean', required: false },
    ],
    ...(opts.outputs ? { outputs: opts.outputs } : {}),
  }
  const bytes = canonicalBytes(descriptor)
  const descriptorCid = CID.createV1(RAW, createDigest(0x12, sha256(bytes)))
  await blocks.put(descriptorCid, bytes)
  const fields = cidToFields(descriptorCid)
  if (!fields.ok) throw fields.error
  const [c0, c1] = fields.value
  const state = [
    sourceCommitmentToField(sourceCommitment),
    c0,
    c1,
    encodeTerms({ pricePerJob: opts.price ?? 5n, withdrawTimelockSlots: 100n }),
    // The contract's own hashes of the runner and Worker keys (o1js Poseidon).
    Poseidon.hash(unwrap(publicKeyToFields(runner.publicKey)).map((f) => Field(f))).toBigInt(),
    Poseidon.hash(
      unwrap(digestToFields(sha256(fromBase64url(opts.workerPublicKey)))).map((f) => Field(f)),
    ).toBigInt(),
    // The x of its ledger's address: one of its own per service (a test double answers there).
    unwrap(publicKeyToFields(address))[0] + 1n,
    encodeHeartbeat({ lastHeartbeatSlot: opts.slot ?? 10n, settledJobs: 0n }),
  ]
  return { address, runner, user, descriptor, descriptorCid, sourceCommitment, state }
}

/** A JSON-lines samples file in the agent's `zkrunner-samples/1` format: CPU and memory rising. */
export function samplesJsonl(count = 24): string {
  const lines: unknown[] = [
    {
      kind: 'header',
      format: 'zkrunner-samples/1',
      intervalMs: 250,
      sources: ['procfs'],
      perfEvents: [],
      notSupported: [],
    },
  ]
  for (let i = 1; i <= count; i++) {
    lines.push({
      kind: 'proc',
      t: i * 250,
      processes: 2,
      cpuMs: i * 180,
      rssBytes: (20 + 5 * Math.sin(i / 3)) * 1024 * 1024,
      hwmBytes: 26 * 1024 * 1024,
    })
  }
  return lines.map((l) => `${JSON.stringify(l)}\n`).join('')
}

/** One bundle: its directory CID and the manifest as signed. */
export interface BundleFixture {
  cid: CID
  manifest: ResultManifest
  signature: ManifestSignature
}

/** The request a fixture job answers: the service's user, the descriptor's default parameters. */
export function requestFixture(
  service: ServiceFixture,
  jobId: string,
  user = service.user.publicKey,
): RequestBinding {
  const parameters = unwrap(validateParameters(service.descriptor.parameters, {}))
  return { requestId: jobId, service: service.address, user, parameters }
}

/** Builds a UnixFS bundle for `jobId` (answering `request`) in `blocks`, spoiled as `variant` asks. */
export async function bundleFixture(
  blocks: MemoryBlockstore,
  service: ServiceFixture,
  jobId: string,
  variant: BundleVariant = 'good',
  request: RequestBinding = requestFixture(service, jobId),
  /** The driver jobs the job used, listed in its signed manifest (a higher-order job). */
  innerJobs?: InnerJob[],
): Promise<BundleFixture> {
  const fs = unixfs({ blockstore: blocks })
  const content: Record<string, string> = {
    'stdout.log': Array.from({ length: 40 }, (_, i) => `ok ${i + 1} - test case ${i + 1}\n`).join(
      '',
    ),
    'stderr.log': 'warning: deprecated flag --foo\n',
    'samples.jsonl': samplesJsonl(),
  }
  const files = []
  const cids = new Map<string, CID>()
  for (const [path, text] of Object.entries(content)) {
    const bytes = enc.encode(text)
    const cid = await fs.addBytes(bytes)
    cids.set(path, cid)
    files.push({
      path,
      size: bytes.length,
      sha256: toHex(sha256(bytes)),
      cid: cid.toString(),
    })
  }
  const manifest: ResultManifest = {
    v: 1,
    jobId,
    service: service.address,
    sourceCommitment:
      variant === 'wrong-source'
        ? 'badbad0000000000000000000000000000000001'
        : service.sourceCommitment,
    runner: service.runner.publicKey,
    user: request.user,
    requestDigest: requestDigest(request),
    exitCode: variant === 'agent-lost' ? null : 0,
    signal: variant === 'agent-lost' ? 'agent-lost' : null,
    startedAt: '2025-01-01T00:00:00.000Z',
    endedAt: '2025-01-01T00:00:06.000Z',
    wallMs: 6000,
    cpuMs: 4320,
    peakRssBytes: 26 * 1024 * 1024,
    sampling: {
      source: 'procfs',
      intervalMs: 250,
      sampleCount: 24,
      events: [{ event: 'cpu-time', supported: true, total: 4320, unit: 'msec' }],
      samplesPath: 'samples.jsonl',
    },
    files,
    ...(variant === 'truncated-logs'
      ? {
          truncatedLogs: [
            {
              file: 'stdout.log' as const,
              keptBytes: enc.encode(content['stdout.log']!).length,
              droppedBytes: 5_000_000,
            },
          ],
        }
      : {}),
    ...fixtureOutputs(service.descriptor.outputs ?? [], variant),
    ...(innerJobs ? { innerJobs } : {}),
  }
  let signature = signManifest(manifest, service.runner.privateKey)
  if (variant === 'wrong-signature') {
    // Signed by another key but claiming to be the runner's: only the signature check can tell.
    const other = signManifest(manifest, generateMinaKeyPair().privateKey)
    signature = { ...signature, signature: other.signature }
  }
  if (variant === 'tampered-file') {
    cids.set('stdout.log', await fs.addBytes(enc.encode('ok 1 - everything passed (edited)\n')))
  }
  let stored = manifestBytes(manifest)
  if (variant === 'duplicate-key') {
    // The signed value says exit code 0; a reader that keeps the first of two keys reads 1.
    const text = new TextDecoder().decode(stored)
    stored = enc.encode(text.replace('"exitCode":0', '"exitCode":1,"exitCode":0'))
  }
  if (variant === 'lone-surrogate') {
    // JSON can spell a lone surrogate (as an escape); no canonical form or signature covers it.
    const text = new TextDecoder().decode(stored)
    stored = enc.encode(text.replace('"path":"stderr.log"', '"path":"stderr\\ud800.log"'))
  }
  cids.set(MANIFEST_FILE, await fs.addBytes(stored))
  cids.set(MANIFEST_SIGNATURE_FILE, await fs.addBytes(enc.encode(JSON.stringify(signature))))
  let dir = await fs.addDirectory()
  for (const [name, cid] of [...cids.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    dir = await fs.cp(cid, dir, name)
  }
  return { cid: dir, manifest, signature }
}

/** A value of each output type, as a job would write it. */
const SAMPLE_OUTPUT: Record<OutputSpec['type'], string> = {
  integer: '25',
  boolean: 'true',
  sha256: 'ab'.repeat(32),
  cid: 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e',
  string: 'all tests passed',
}

/** The manifest outputs of a fixture job: every declared output written, or spoiled by variant. */
function fixtureOutputs(
  specs: readonly OutputSpec[],
  variant: BundleVariant,
): { outputs?: ManifestOutputs } {
  if (variant === 'outputs-undeclared')
    return {
      outputs: checkOutputs(
        [{ name: 'other', type: 'integer', required: true }],
        [{ name: 'other', value: '1' }],
      ),
    }
  if (specs.length === 0) return {}
  const written = specs.map((s) => ({ name: s.name, value: SAMPLE_OUTPUT[s.type] }))
  if (variant === 'outputs-invalid')
    return { outputs: checkOutputs(specs, [...written.slice(1), { name: 'forged', value: '1' }]) }
  return { outputs: checkOutputs(specs, written) }
}
