import {
  checkGenuineService,
  type GenuineCode,
  holdsServiceState,
  isPrivateCommitment,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  type ManifestSignature,
  manifestDigest,
  parseContentCid,
  parseManifestBytes,
  parseManifestSignature,
  parseServiceDescriptor,
  payabilityOf,
  publicKeyToFields,
  type RequestBinding,
  type ResultManifest,
  requestDigest,
  type ServiceAccounts,
  type ServiceDescriptor,
  sha256,
  toHex,
  verifyManifest,
} from '../protocol/index.ts'
import {
  type ChainReader,
  decodeServiceState,
  type ServiceOnChain,
  sameCommit,
} from './chain-reader.ts'
import { VerifyError, VerifyErrorCode } from './errors.ts'
import {
  type InnerBudget,
  type InnerVerification,
  innerJobsStatus,
  MAX_INNER_VERIFICATIONS,
} from './inner-jobs.ts'
import { LINKS, type LinkId, link, type VerificationLink } from './links.ts'
import { type OutputsSummary, outputsSummary } from './outputs.ts'
import { serviceReveal } from './reveals.ts'
import { type Settlement, settlementFor } from './settlement.ts'

/** Content-addressed reads; every implementation must check each block against its CID. */
export interface BundleReader {
  /** The bytes at `path` inside the UnixFS directory `root`. */
  readPath(root: string, path: string, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  /** The bytes of a file CID (the service descriptor). */
  readCid(cid: string, options?: { signal?: AbortSignal }): Promise<Uint8Array>
}

/** Where the leaves of a user's results tree come from, and how its root is computed (Poseidon). */
export interface SettledResults {
  /**
   * Manifest digests in leaf order from the SettledLeaves document `leavesCid` (named by the
   * Claim event that set the user's channel); throws SETTLED_LEAVES_INVALID when the document retrieved is not
   * a leaf list of `user` with `service`, any other error when it cannot be retrieved.
   */
  digests(
    leavesCid: string,
    service: string,
    user: string,
    options?: { signal?: AbortSignal },
  ): Promise<Uint8Array[]>
  /**
   * The results-tree root of `digests` (leaf i = the i-th job) of `user` with `service`, as the
   * contract computes it (each leaf names its service and user).
   */
  root(owner: { service: string; user: string }, digests: readonly Uint8Array[]): Promise<bigint>
}

/** What to verify: a bundle, for a service, optionally for one job id or one request. */
export interface VerifyTarget {
  bundleCid: string
  service: string
  jobId?: string
  /**
   * The request the caller sent, when it sent one: the manifest must answer exactly it (request
   * id, user, service, parameters), so a Worker cannot hand back another request's result.
   */
  request?: RequestBinding
  /**
   * The channel that paid for the job when it is not its user's own: the sponsor of a sponsored
   * job (the pool is the sponsor's channel, so its settled leaves are the sponsor's). The caller
   * knows it from the request it sent. It only says where to look: a leaf found under that
   * channel's settled root still proves the runner was paid for exactly this signed manifest.
   */
  payer?: string
}

/** The narrow dependencies of verification. */
export interface VerifyDeps {
  bundle: BundleReader
  chain: Pick<ChainReader, 'serviceAccounts' | 'events' | 'ledgerBook'> &
    // Every real reader (GraphqlChainReader) has it; optional only for test doubles that predate it.
    Partial<Pick<ChainReader, 'ledgerSolvency'>>
  /** What a genuine service is compared with (the page's config). */
  genuine: { creditTokenId: string; code: GenuineCode }
  /** Poseidon over fields, as the contract hashes (o1js; in the page's prover worker). */
  poseidon: (fields: bigint[]) => Promise<bigint>
  settled?: SettledResults
  /**
   * CIDs of the reveal documents the service's own operator listed for it (registry events), newest
   * first; absent or empty while a private service is not revealed.
   */
  reveals?: (service: string) => Promise<readonly string[]>
  signal?: AbortSignal
  /** How deep in a tree of inner jobs this verification is (0: the result asked about). */
  nesting?: number
  /** Inner verifications the whole tree may still make (shared; fresh at the top). */
  innerBudget?: InnerBudget
}

/** The verdict, plus what the views need to show the result (only ever from checked bytes). */
export interface VerifyOutcome {
  links: VerificationLink[]
  manifest: ResultManifest | null
  /** Bytes of each manifest file that matched its hash. */
  files: Map<string, Uint8Array>
  /** The job's typed outputs, their digest and their check against the descriptor (null: none). */
  outputs: OutputsSummary | null
  /** The driver jobs the manifest lists, each verified on its own (empty: none, or not reached). */
  inner: InnerVerification[]
}

const decoder = new TextDecoder('utf-8', { fatal: true })
const why = (e: unknown) => (e instanceof Error ? e.message : String(e))

function parseJsonBytes(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes))
}

/**
 * Walks the verification chain of one result: bundle → manifest → file hashes → runner signature
 * → runner key named by the on-chain descriptor → service → source commitment → settled root.
 * Independent links are all checked, so a report names every broken one, not only the first.
 * `onLink` is called as each link is decided, for progressive display.
 */
export async function verifyResult(
  target: VerifyTarget,
  deps: VerifyDeps,
  onLink: (l: VerificationLink) => void = () => {},
): Promise<VerifyOutcome> {
  const decided = new Map<LinkId, VerificationLink>()
  const set = (id: LinkId, status: VerificationLink['status'], detail: string) => {
    const l = link(id, status, detail)
    decided.set(id, l)
    onLink(l)
  }
  const files = new Map<string, Uint8Array>()
  // The descriptor's output declarations, once walkChain has read the descriptor.
  const declared: { specs: ServiceDescriptor['outputs'] | null } = { specs: null }
  const inner: InnerVerification[] = []
  const outcome = (manifest: ResultManifest | null): VerifyOutcome => {
    const links = (Object.keys(LINKS) as LinkId[]).map(
      (id) => decided.get(id) ?? link(id, 'pending', 'not checked: an earlier link is broken'),
    )
    const outputs = manifest ? outputsSummary(manifest, declared.specs ?? null) : null
    return { links, manifest, files, outputs, inner }
  }
  try {
    return await walkChain(
      target,
      deps,
      set,
      files,
      outcome,
      (d) => {
        declared.specs = d.outputs ?? []
      },
      inner,
      (id) => decided.get(id)?.status,
    )
  } catch (e) {
    // Whatever a hostile bundle or node makes throw, the report names it: no link stays on
    // "checking", and no ✓ stands beside content that was never checked.
    files.clear()
    for (const id of Object.keys(LINKS) as LinkId[]) {
      if (!decided.has(id)) set(id, 'broken', `verification failed: ${why(e)}`)
    }
    return outcome(null)
  }
}

async function walkChain(
  target: VerifyTarget,
  deps: VerifyDeps,
  set: (id: LinkId, status: VerificationLink['status'], detail: string) => void,
  files: Map<string, Uint8Array>,
  outcome: (manifest: ResultManifest | null) => VerifyOutcome,
  onDescriptor: (d: ServiceDescriptor) => void,
  inner: InnerVerification[],
  decided: (id: LinkId) => VerificationLink['status'] | undefined,
): Promise<VerifyOutcome> {
  const opts = deps.signal ? { signal: deps.signal } : {}

  // 0. Genuine and frozen, before any ✓: a look-alike contract (chosen state, a Settle-shaped
  // event) or a service without its vault makes every later link meaningless.
  let accounts: ServiceAccounts | null = null
  let chainError: unknown = null
  try {
    accounts = await deps.chain.serviceAccounts(target.service, deps.genuine.creditTokenId)
  } catch (e) {
    chainError = e
  }
  if (accounts !== null) {
    const verdict = checkGenuineService(accounts, deps.genuine.code)
    if (!verdict.genuine) {
      set('service', 'broken', `unsafe service (${verdict.code}): ${verdict.reason}`)
      return outcome(null)
    }
    // Genuine code is not enough: a ledger whose state was written before the freeze, or whose
    // escrow holds less than it owes, is no service to trust either.
    if (accounts.ledgerAddress && deps.chain.ledgerSolvency) {
      try {
        const solvency = await deps.chain.ledgerSolvency(
          accounts.ledgerAddress,
          deps.genuine.creditTokenId,
        )
        if (!solvency.solvent) {
          set('service', 'broken', `unsafe service (${solvency.code}): ${solvency.reason}`)
          return outcome(null)
        }
      } catch (e) {
        // Unjudged is not judged sound: the chain links wait, as when the node is down.
        accounts = null
        chainError = e
      }
    }
  }

  // 1. The manifest and its signature, fetched with verified retrieval. The CID is parsed first:
  // a path or a query after it would make a gateway answer bytes the CID does not name.
  const bundleCid = parseContentCid(target.bundleCid)
  if (!bundleCid.ok) {
    set('bundle', 'broken', `${target.bundleCid.slice(0, 100)}: ${bundleCid.error.message}`)
    return outcome(null)
  }
  const root = bundleCid.value.toString()
  let manifestBytes: Uint8Array
  let sigBytes: Uint8Array
  try {
    ;[manifestBytes, sigBytes] = await Promise.all([
      deps.bundle.readPath(root, MANIFEST_FILE, opts),
      deps.bundle.readPath(root, MANIFEST_SIGNATURE_FILE, opts),
    ])
  } catch (e) {
    set('bundle', 'broken', `cannot retrieve ${root}: ${why(e)}`)
    return outcome(null)
  }
  set('bundle', 'ok', `${root} (every block checked against its CID)`)

  // 2. The manifest parses from exactly its canonical bytes, and answers the request asked about.
  const parsed = parseManifestBytes(manifestBytes)
  if (!parsed.ok) {
    set('manifest', 'broken', `${MANIFEST_FILE} is not a valid manifest: ${parsed.error.message}`)
    return outcome(null)
  }
  const manifest = parsed.value
  const mismatch = requestMismatch(manifest, target)
  const summary = `job ${manifest.jobId}, exit code ${manifest.exitCode ?? manifest.signal}`
  if (mismatch !== null) set('manifest', 'broken', mismatch)
  // Well-formed alone is not "answers this request": with no job id and no request to compare,
  // the link says so rather than pass (a bundle of any job of the service would pass otherwise).
  else if (target.jobId === undefined && target.request === undefined)
    set(
      'manifest',
      'pending',
      `${summary}; which request it answers: not checked (no request given)`,
    )
  else set('manifest', 'ok', summary)

  // 3. Every file the manifest lists, re-hashed from the bytes the bundle really holds.
  const bad: string[] = []
  for (const f of manifest.files) {
    try {
      const bytes = await deps.bundle.readPath(root, f.path, opts)
      if (bytes.length !== f.size || toHex(sha256(bytes)) !== f.sha256) bad.push(f.path)
      else files.set(f.path, bytes)
    } catch {
      bad.push(`${f.path} (missing)`)
    }
  }
  if (bad.length > 0) set('files', 'broken', `hash mismatch: ${bad.join(', ')}`)
  else set('files', 'ok', `${manifest.files.length} files re-hashed`)

  // 4. The runner's signature over the manifest digest.
  let sig: ManifestSignature | null = null
  try {
    const parsed = parseManifestSignature(parseJsonBytes(sigBytes))
    if (!parsed.ok) throw parsed.error
    sig = parsed.value
    const verified = verifyManifest(manifest, sig)
    if (!verified.ok) throw verified.error
    set('signature', 'ok', `signed by ${manifest.runner}`)
  } catch (e) {
    set('signature', 'broken', `${MANIFEST_SIGNATURE_FILE}: ${why(e)}`)
  }

  // 5–7. The service contract's frozen state, and the descriptor its CID names.
  let state: ServiceOnChain | null = null
  if (accounts === null) {
    for (const id of ['runner', 'service', 'source', 'settled', 'inner'] as const) {
      set(id, 'pending', `Mina node unavailable: ${why(chainError)}`)
    }
    return outcome(manifest)
  }
  const fields = accounts.service?.zkappState
  if (holdsServiceState(fields)) state = decodeServiceState(fields)
  if (state === null) {
    set('service', 'broken', `no service contract at ${target.service}`)
    return outcome(manifest)
  }
  if (manifest.service !== target.service) {
    set('service', 'broken', `manifest names ${manifest.service}, not ${target.service}`)
  } else set('service', 'ok', target.service)

  let descriptor: ServiceDescriptor | null = null
  if (state.descriptorCid === null) {
    set('runner', 'broken', 'the contract holds no valid descriptor CID')
  } else {
    try {
      const parsed = parseServiceDescriptor(
        parseJsonBytes(await deps.bundle.readCid(state.descriptorCid, opts)),
      )
      if (!parsed.ok) throw parsed.error
      descriptor = parsed.value
      onDescriptor(descriptor)
    } catch (e) {
      set('runner', 'broken', `descriptor ${state.descriptorCid}: ${why(e)}`)
    }
  }
  if (descriptor !== null) {
    // The contract's own runnerKeyHash decides, not only the descriptor (which it does not bind).
    const keyHash = await runnerKeyHashOf(manifest.runner, deps).catch((e: unknown) => e)
    if (descriptor.runnerPublicKey !== manifest.runner) {
      set(
        'runner',
        'broken',
        `signed by ${manifest.runner}, the service's runner is ${descriptor.runnerPublicKey}`,
      )
    } else if (typeof keyHash !== 'bigint') {
      set('runner', 'pending', `cannot hash the runner key: ${why(keyHash)}`)
    } else if (keyHash !== state.runnerKeyHash) {
      set(
        'runner',
        'broken',
        `the contract's runnerKeyHash ${state.runnerKeyHash} is not the hash of ${manifest.runner}`,
      )
    } else set('runner', 'ok', `${descriptor.runnerPublicKey} (descriptor ${state.descriptorCid})`)
  }

  if (!sameCommit(state, manifest.sourceCommitment)) {
    set(
      'source',
      'broken',
      `manifest says ${manifest.sourceCommitment}, the contract holds ${state.sourceCommitment}`,
    )
  } else if (isPrivateCommitment(manifest.sourceCommitment)) {
    set('source', ...(await privateSourceStatus(target.service, state, deps)))
  } else set('source', 'ok', state.sourceCommitment)

  // 8. Inclusion in the user's settled results root.
  set(
    'settled',
    ...(await settledStatus(
      target.service,
      fields ?? [],
      manifest,
      target.payer ?? manifest.user,
      state,
      deps,
    )),
  )

  // 9. The driver jobs it used, each verified as any result is, one level down; only those a
  // manifest the service's runner signed lists. Anyone's bytes can list 64 entries: fetching and
  // verifying them for a result already broken at its signature would be work for nothing.
  if (decided('signature') !== 'ok' || decided('runner') !== 'ok') {
    if ((manifest.innerJobs ?? []).length > 0)
      set('inner', 'pending', "not checked: the manifest is not signed by the service's runner")
    else set('inner', 'ok', 'no inner jobs')
    return outcome(manifest)
  }
  const depth = deps.nesting ?? 0
  const innerBudget = deps.innerBudget ?? { left: MAX_INNER_VERIFICATIONS }
  const nested = await innerJobsStatus(
    manifest,
    depth,
    (t) => verifyResult(t, { ...deps, nesting: depth + 1, innerBudget }),
    innerBudget,
  )
  inner.push(...nested.inner)
  set('inner', nested.status, nested.detail)
  return outcome(manifest)
}

/** Poseidon(runner public key fields): what the contract freezes as runnerKeyHash. */
async function runnerKeyHashOf(runner: string, deps: VerifyDeps): Promise<bigint> {
  const fields = publicKeyToFields(runner)
  if (!fields.ok) throw fields.error
  return deps.poseidon(fields.value)
}

/** Why the manifest does not answer what the caller asked about, or null when it does. */
function requestMismatch(manifest: ResultManifest, target: VerifyTarget): string | null {
  const jobId = target.request?.requestId ?? target.jobId
  if (jobId !== undefined && manifest.jobId !== jobId)
    return `manifest is for job ${manifest.jobId}, not ${jobId}`
  const request = target.request
  if (request === undefined) return null
  if (manifest.user !== request.user)
    return `manifest is for user ${manifest.user}, not ${request.user}`
  if (manifest.requestDigest !== requestDigest(request))
    return `manifest answers another request (digest ${manifest.requestDigest}): other parameters or service`
  return null
}

async function settledStatus(
  service: string,
  serviceState: readonly bigint[],
  manifest: ResultManifest,
  payer: string,
  state: ServiceOnChain,
  deps: VerifyDeps,
): Promise<['ok' | 'broken' | 'pending', string]> {
  let settlement: Settlement | null
  try {
    settlement = await settlementFor(deps.chain, serviceState, payer)
  } catch (e) {
    return ['pending', `archive unavailable: ${why(e)}`]
  }
  const payability = payabilityOf(manifest)
  if (settlement === null)
    return payability.payable
      ? [
          'pending',
          `not settled yet: the runner has not settled ${payer === manifest.user ? 'this user' : `the paying channel ${payer}`}`,
        ]
      : ['ok', `not charged (${payability.reason}): never settled, as the payable rule says`]
  if (!deps.settled) return ['pending', 'settled on chain; this page cannot compute results roots']
  // The runner signed the leaves CID with the root, so a CID that does not decode is its fault.
  const cid = settlement.leavesCid
  if (cid === null) return ['broken', 'the latest settlement names no valid leaves document CID']
  let leaves: Uint8Array[]
  try {
    leaves = await deps.settled.digests(
      cid,
      service,
      payer,
      deps.signal ? { signal: deps.signal } : {},
    )
  } catch (e) {
    if (e instanceof VerifyError && e.code === VerifyErrorCode.SETTLED_LEAVES_INVALID)
      return ['broken', `leaves document ${why(e)}`]
    return ['pending', `cannot retrieve the leaves document ${cid}: ${why(e)}`]
  }
  const digest = toHex(manifestDigest(manifest))
  const index = leaves.findIndex((l) => toHex(l) === digest)
  // The payable rule: a job that did not run to an end is never a settled result. Its link holds
  // while the runner has not been paid for it, and breaks if the runner listed it anyway.
  if (!payability.payable)
    return index < 0
      ? ['ok', `not charged (${payability.reason}): never settled, as the payable rule says`]
      : ['broken', `the runner was paid for a job that is not payable (${payability.reason})`]
  if (index < 0)
    return ['pending', `not settled yet: not among the ${leaves.length} jobs settled so far`]
  // The leaves document may list more jobs than were paid; only the paid ones are settled. A
  // free service pays nothing per job, so there the root alone says what was settled.
  if (state.terms.pricePerJob > 0n && BigInt(index) >= settlement.jobs)
    return [
      'pending',
      `not settled yet: leaf ${index} is beyond the ${settlement.jobs} jobs the settlements paid`,
    ]
  let root: bigint
  try {
    root = await deps.settled.root({ service, user: payer }, leaves)
  } catch (e) {
    return ['pending', `cannot compute the results root: ${why(e)}`]
  }
  if (root !== settlement.resultsRoot) {
    return [
      'broken',
      `leaves document ${cid} gives root ${root}, the settled root is ${settlement.resultsRoot}`,
    ]
  }
  const finality = settlement.chainStatus === 'canonical' ? 'final' : 'not yet final'
  return [
    'ok',
    `leaf ${index} of ${leaves.length} under root ${settlement.resultsRoot} (leaves ${cid}; block ${settlement.height}, ${finality})`,
  ]
}

/**
 * The source link of a private service. Until its operator reveals it, the manifest commits to what
 * the contract froze but what that is stays hidden: neither passed nor failed. Once revealed, the
 * newest reveal document must open the frozen commitment; one that does not is a broken link,
 * named, whatever earlier documents said.
 */
async function privateSourceStatus(
  service: string,
  state: ServiceOnChain,
  deps: VerifyDeps,
): Promise<['ok' | 'broken' | 'pending', string]> {
  const committed = `private (committed): ${state.sourceCommitment}`
  const reveal = await serviceReveal(
    service,
    state.sourceCommitment,
    async () => (await deps.reveals?.(service)) ?? [],
    deps.bundle,
    deps.signal,
  )
  if (reveal.state === 'hidden') return ['pending', committed]
  if (reveal.state === 'unreadable') return ['pending', `${committed}; ${reveal.why}`]
  if (reveal.state === 'broken') return ['broken', reveal.why]
  return [
    'ok',
    `revealed (${reveal.cid}): ${reveal.providerUrl} ${reveal.project} @ ${reveal.commit}`,
  ]
}
