import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes, toHex } from './encoding.ts'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { manifestMessage } from './messages.ts'
import { ManifestOutputsSchema } from './outputs.ts'
import { parseWith } from './parse.ts'
import {
  ContentCidSchema,
  PublicKeySchema,
  RequestIdSchema,
  Sha256HexSchema,
  SignatureSchema,
  WellFormedStringSchema,
} from './primitives.ts'
import { signFields, verifyFields } from './signature.ts'
import { SourceCommitmentSchema } from './source-commitment.ts'

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const isoTime = z.iso.datetime({ offset: true })

/** Characters of a path a manifest records (a bundle file's, a skipped artifact's) at most. */
export const MAX_BUNDLE_PATH = 1024

/** One file of a result bundle, as the runner hashed it. */
export const ManifestFileSchema = z.strictObject({
  /** Path inside the bundle, `/`-separated, no `..`. */
  path: WellFormedStringSchema.min(1)
    .max(MAX_BUNDLE_PATH)
    .refine(
      (p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.' || s === ''),
      {
        message: 'must be a relative path without . or .. segments',
      },
    ),
  size: count,
  sha256: Sha256HexSchema,
  /** UnixFS CID of the file's bytes. */
  cid: ContentCidSchema,
})
/** One file of a result bundle. */
export type ManifestFile = z.infer<typeof ManifestFileSchema>

/** One counter the sampler tried to record, and what it found. */
export const SampledEventSchema = z.strictObject({
  /** Event name as perf or the fallback reader names it (task-clock, cpu-clock, rss, …). */
  event: WellFormedStringSchema.min(1).max(128),
  /** False where the host does not expose the counter (`<not supported>`). */
  supported: z.boolean(),
  /** Sum over the run (or peak, for gauges such as memory). */
  total: z.number().min(0).nullable(),
  unit: WellFormedStringSchema.max(32).default(''),
})

/** How the run was measured, and the headline numbers. */
export const SamplingSummarySchema = z.strictObject({
  source: z.enum(['perf', 'procfs', 'cgroup']),
  intervalMs: z.int().min(1).max(3_600_000),
  sampleCount: count,
  events: z.array(SampledEventSchema).max(256),
  /** Path of the time series inside the bundle (documented in agent/README.md). */
  samplesPath: WellFormedStringSchema.min(1).max(1024),
})
/** How the run was measured. */
export type SamplingSummary = z.infer<typeof SamplingSummarySchema>

/** Files a manifest lists at most (every file of the bundle but the manifest and its signature). */
export const MAX_MANIFEST_FILES = 10_000
/** Skipped artifacts a manifest lists at most. */
export const MAX_SKIPPED_ARTIFACTS = 1000

/** Why a declared artifact is not in the bundle. */
export const ArtifactSkipReasonSchema = z.enum([
  /** Not there after the job (a failed job often has none). */
  'missing',
  /** Absolute, `..`, or resolving outside the job's build directory. */
  'outside-build-dir',
  /** A symlink in some component of its path, or inside a declared directory. */
  'symlink',
  /** Not a regular file or directory (a FIFO, socket or device). */
  'not-a-file',
  /**
   * The job's user could not read it (or reach it) itself: the runner reads artifacts with more
   * rights than the job, and publishes only what the job could have read.
   */
  'unreadable',
  /**
   * Larger than what was left of the runner's cap on one job's artifact bytes: a job must not
   * fill the runner's disk (a sparse file of any size costs the job nothing; its copy is real).
   * Also a declared path whose walk stopped because the bundle was full: as many files, or as
   * many skipped entries, as a manifest lists.
   */
  'too-large',
])

/** A declared artifact the runner left out of the bundle, and why. */
export const SkippedArtifactSchema = z.strictObject({
  path: z.string().min(1).max(MAX_BUNDLE_PATH),
  reason: ArtifactSkipReasonSchema,
})
/** A declared artifact the runner left out of the bundle. */
export type SkippedArtifact = z.infer<typeof SkippedArtifactSchema>

/** The job's captured logs, the files a runner may cut at its cap. */
export const LogFileSchema = z.enum(['stdout.log', 'stderr.log'])

/**
 * A log the runner cut at its cap: it kept the first `keptBytes` bytes of the job's output on that
 * stream (the file in the bundle) and dropped the `droppedBytes` that followed.
 */
export const TruncatedLogSchema = z.strictObject({
  file: LogFileSchema,
  keptBytes: count,
  droppedBytes: count.min(1),
})
/** A log the runner cut at its cap. */
export type TruncatedLog = z.infer<typeof TruncatedLogSchema>

/**
 * Why a job never ran. Such a result is signed and published so the user sees why, but it is
 * not a delivered result: settlement never charges it. `source-mismatch`: the commit the CI
 * checked out is not the service version's source commitment.
 */
export const NotRunReasonSchema = z.enum(['source-mismatch'])

/**
 * How the runner came to run the job. `executor`: GitLab Runner handed the agent the job's own
 * script (the custom executor); `run`: the job's CI script called `zkrunner-agent run` with a
 * command of its choosing; `signer`: the job's own user asked the signer to run a command of its
 * choosing, and the signer checked with the Worker and the provider that the job was dispatched
 * and was running on this runner. In `run` and `signer` the command is the job's word, not the
 * service's: a reader sees what was run, not that it was the service's definition.
 */
export const RunModeSchema = z.enum(['executor', 'run', 'signer'])
/** How the runner came to run the job. */
export type RunMode = z.infer<typeof RunModeSchema>

/** How the job ran: its mode and the command line the runner started (program first). */
export const RanSchema = z.strictObject({
  mode: RunModeSchema,
  command: z.array(WellFormedStringSchema.max(65_536)).min(1).max(1025),
})

/** The most driver calls one job's manifest lists. */
export const MAX_INNER_JOBS = 64

/**
 * One driver job a higher-order job used (`zkrunner-agent call --wait`): which service, which job,
 * its bundle and the digest of its manifest. The outer runner signs the list with its manifest;
 * a verifier checks each inner bundle on its own and that it answers this runner's call.
 */
export const InnerJobSchema = z.strictObject({
  service: PublicKeySchema,
  jobId: RequestIdSchema,
  bundleCid: ContentCidSchema,
  manifestDigest: Sha256HexSchema,
})
/** One driver job a higher-order job used. */
export type InnerJob = z.infer<typeof InnerJobSchema>

/** What the runner asserts about one job: signed, pinned, and checked by anyone. */
export const ResultManifestSchema = z.strictObject({
  v: z.literal(1),
  jobId: RequestIdSchema,
  /** The service contract's address. */
  service: PublicKeySchema,
  /** The service version's source commitment: a commit SHA, or a private service's poseidon:…. */
  sourceCommitment: SourceCommitmentSchema,
  /** The runner oracle's public key that signs this manifest. */
  runner: PublicKeySchema,
  /** The paying user. */
  user: PublicKeySchema,
  /** requestDigest of the request this job answers (request id, service, user, parameters). */
  requestDigest: Sha256HexSchema,
  /** Exit code, or null when the job was ended by a signal. */
  exitCode: z.int().min(0).max(255).nullable(),
  signal: WellFormedStringSchema.max(16).nullable().default(null),
  startedAt: isoTime,
  endedAt: isoTime,
  wallMs: count,
  cpuMs: count,
  peakRssBytes: count,
  sampling: SamplingSummarySchema,
  /** Every file of the bundle except the manifest and its signature. */
  files: z.array(ManifestFileSchema).max(MAX_MANIFEST_FILES),
  /** Declared artifacts left out of the bundle (absent when none were). */
  skippedArtifacts: z.array(SkippedArtifactSchema).max(MAX_SKIPPED_ARTIFACTS).optional(),
  /** Set when the job was refused before it ran: never charged. */
  notRun: NotRunReasonSchema.optional(),
  /** Logs the runner cut at its cap, and how much of each it dropped (absent when none was). */
  truncatedLogs: z.array(TruncatedLogSchema).min(1).max(2).optional(),
  /**
   * The job's typed outputs, checked against its service's declarations (absent when the service
   * declares none and the job wrote none). `valid: false` marks the job outputs-invalid.
   */
  outputs: ManifestOutputsSchema.optional(),
  /** How the job ran (absent in manifests from before the runner recorded it). */
  ran: RanSchema.optional(),
  /** The driver jobs this job called and used, in call order (absent when it called none). */
  innerJobs: z.array(InnerJobSchema).max(MAX_INNER_JOBS).optional(),
})
/** What the runner asserts about one job. */
export type ResultManifest = z.infer<typeof ResultManifestSchema>

/** The runner's signature over a manifest digest: stored beside the manifest in the bundle. */
export const ManifestSignatureSchema = z.strictObject({
  v: z.literal(1),
  runner: PublicKeySchema,
  /** SHA-256 of the manifest's canonical JSON, hex. */
  digest: Sha256HexSchema,
  signature: SignatureSchema,
})
/** The runner's signature over a manifest digest. */
export type ManifestSignature = z.infer<typeof ManifestSignatureSchema>

/** File names of the manifest and its signature inside every bundle. */
export const MANIFEST_FILE = 'manifest.json'
/** File name of the manifest signature inside every bundle. */
export const MANIFEST_SIGNATURE_FILE = 'manifest.sig.json'

/** Validates an untrusted manifest. */
export const parseResultManifest = (input: unknown): Result<ResultManifest> =>
  parseWith(ResultManifestSchema, input)

/** Validates an untrusted manifest signature. */
export const parseManifestSignature = (input: unknown): Result<ManifestSignature> =>
  parseWith(ManifestSignatureSchema, input)

/**
 * Parses the bytes of a bundle's manifest.json. They must be exactly the canonical JSON of what
 * they parse to: the runner signs the canonical form, so any other spelling of the same value (a
 * duplicate key, whose last value JSON.parse keeps) would let two readers see two manifests.
 */
export function parseManifestBytes(bytes: Uint8Array): Result<ResultManifest> {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    return fail(ProtocolErrorCode.MALFORMED_JSON, 'not UTF-8 JSON')
  }
  const parsed = parseResultManifest(value)
  if (!parsed.ok) return parsed
  const canonical = canonicalBytes(parsed.value)
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i]))
    return fail(ProtocolErrorCode.NOT_CANONICAL, 'bytes are not the canonical JSON of the manifest')
  return ok(parsed.value)
}

/** The bytes a bundle stores as manifest.json: its canonical JSON, exactly what the runner signs. */
export const manifestBytes = (manifest: ResultManifest): Uint8Array => canonicalBytes(manifest)

/** SHA-256 of the manifest's canonical JSON: what the runner signs. */
export function manifestDigest(manifest: ResultManifest): Uint8Array {
  return sha256(canonicalBytes(manifest))
}

/** Signs a manifest with the runner oracle key. */
export function signManifest(
  manifest: ResultManifest,
  runnerPrivateKey: string,
): ManifestSignature {
  const digest = manifestDigest(manifest)
  return {
    v: 1,
    runner: manifest.runner,
    digest: toHex(digest),
    signature: signFields(manifestMessage(digest), runnerPrivateKey),
  }
}

/** Checks that `sig` is the manifest's runner's signature over exactly this manifest. */
export function verifyManifest(manifest: ResultManifest, sig: ManifestSignature): Result<true> {
  const digest = manifestDigest(manifest)
  if (toHex(digest) !== sig.digest)
    return fail('BAD_SIGNATURE', 'digest does not match the manifest', ['digest'])
  if (sig.runner !== manifest.runner)
    return fail('BAD_SIGNATURE', 'signed by another runner', ['runner'])
  const r = verifyFields(manifestMessage(digest), sig.signature, sig.runner)
  return r.ok ? r : fail(r.error.code, r.error.message, ['signature'])
}
