import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 as mhSha256 } from 'multiformats/hashes/sha2'
import {
  canonicalJson,
  chargeOfJob,
  checkDriver,
  checkOutputs,
  cidToFields,
  digestToFields,
  domainTag,
  keyId,
  manifestDigest,
  manifestMessage,
  openingStringToFields,
  openingToField,
  outputFields,
  outputsDigest,
  payabilityOf,
  privateCommitment,
  publicKeyToFields,
  requestDigest,
  resultDeadline,
  resultLeafMessage,
  serviceAvailability,
  settledLeavesBytes,
  settledLeavesCid,
  settleMessage,
  sha256,
  signFields,
  signManifest,
  signVoucher,
  toHex,
  unwrap,
  voucherMessage,
} from '../index.ts'
import {
  signSponsoredRequest,
  signSponsorshipGrant,
  sponsoredRequestMessage,
  sponsorshipMessage,
} from '../sponsorship.ts'
import {
  descriptor,
  driverSpec,
  helloBytes,
  invalidWrittenOutputs,
  keys,
  manifest,
  outputSpecs,
  ran,
  request,
  settledLeaves,
  settlement,
  sourceOpening,
  voucher,
  writtenOutputs,
} from './inputs.ts'

/**
 * One case per reason of the availability rule, and ties between reasons (the first in the rule's
 * order wins). Slots and credits as decimal strings, as they travel in JSON.
 */
const availabilityCases = [
  { note: 'fresh, no user' },
  { note: 'exactly the allowed age', currentSlot: '110' },
  { note: 'one slot older', currentSlot: '111' },
  { note: 'never heartbeated', lastHeartbeatSlot: '0', currentSlot: '1' },
  { note: 'deposit covers one more job', deposit: '30', owed: '20' },
  { note: 'deposit short by one', deposit: '30', owed: '21' },
  { note: 'provider quota', health: ['provider-quota'] },
  { note: 'pool exhausted', health: ['funding-exhausted'] },
  { note: 'quota before pool', health: ['funding-exhausted', 'provider-quota'] },
  { note: 'retired', retired: true, deposit: '0', owed: '0' },
  { note: 'unsafe before retired', genuine: false, retired: true, currentSlot: '999' },
  { note: 'stale before health', currentSlot: '111', health: ['provider-quota'] },
  { note: 'pool pays one more job', poolFundable: '10' },
  { note: 'pool short by one', poolFundable: '9' },
  { note: 'pool ended or its vouchers spent', poolFundable: '100', poolOpen: false },
  { note: 'pool before the user', poolFundable: '0', deposit: '0', owed: '0' },
] as const

/** A case's facts: the defaults (heartbeat at 100, now 105, allowed age 10, price 10) overridden. */
function availabilityFacts(c: (typeof availabilityCases)[number]) {
  const o = c as {
    lastHeartbeatSlot?: string
    currentSlot?: string
    genuine?: boolean
    retired?: boolean
    health?: readonly ('provider-quota' | 'funding-exhausted')[]
    deposit?: string
    owed?: string
    poolFundable?: string
    poolOpen?: boolean
  }
  return {
    heartbeat: { lastHeartbeatSlot: BigInt(o.lastHeartbeatSlot ?? '100'), settledJobs: 0n },
    currentSlot: BigInt(o.currentSlot ?? '105'),
    maxHeartbeatAgeSlots: 10n,
    ...(o.genuine === undefined ? {} : { genuine: o.genuine }),
    ...(o.retired === undefined ? {} : { retired: o.retired }),
    ...(o.health ? { health: o.health } : {}),
    ...(o.deposit
      ? {
          funding: { deposit: BigInt(o.deposit), owed: BigInt(o.owed ?? '0'), pricePerJob: 10n },
        }
      : {}),
    ...(o.poolFundable
      ? {
          pool: {
            fundable: BigInt(o.poolFundable),
            pricePerJob: 10n,
            ...(o.poolOpen === undefined ? {} : { open: o.poolOpen }),
          },
        }
      : {}),
  }
}

/**
 * One case per refusal of the driver rule (a `service` parameter's value), and its order. The
 * candidate's descriptor is the vectors' descriptor with `outputs` (or its parameters) as given.
 */
const driverCases = [
  { note: 'matches the interface' },
  { note: 'no contract', contract: false, registered: false },
  { note: 'not registered', registered: false },
  { note: 'retired', reason: 'retired' },
  { note: 'stale heartbeat', reason: 'stale-heartbeat' },
  { note: 'descriptor unread', descriptor: false },
  { note: 'parameter missing', dropParameter: 'OPT' },
  { note: 'output missing', outputs: [] },
  { note: 'output of another type', outputs: [{ name: 'primes', type: 'string', maxBytes: 8 }] },
  { note: 'output optional', outputs: [{ name: 'primes', type: 'integer', required: false }] },
  { note: 'not registered before retired', registered: false, reason: 'retired' },
] as const

/** A driver case's facts: a live, registered version with the matching descriptor, overridden. */
function driverFacts(c: (typeof driverCases)[number]) {
  const o = c as {
    contract?: boolean
    registered?: boolean
    reason?: 'retired' | 'stale-heartbeat'
    descriptor?: boolean
    dropParameter?: string
    outputs?: readonly { name: string; type: string; required?: boolean; maxBytes?: number }[]
  }
  const outputs = (o.outputs ?? [{ name: 'primes', type: 'integer' }]).map((x) => ({
    required: true,
    ...x,
  }))
  return {
    availability:
      o.contract === false
        ? null
        : o.reason
          ? { enabled: false as const, reason: o.reason }
          : { enabled: true as const },
    registered: o.registered ?? true,
    descriptor:
      o.descriptor === false
        ? null
        : ({
            ...descriptor,
            parameters: descriptor.parameters.filter((p) => p.name !== o.dropParameter),
            outputs,
          } as typeof descriptor),
  }
}

/** Every way a job can end, for the payable rule's vectors. */
const payableRunEnds = [
  { exitCode: 0, signal: null },
  { exitCode: 1, signal: null },
  { exitCode: 255 },
  { exitCode: null, signal: 'agent-lost' },
  { exitCode: null, signal: 'SIGKILL' },
  { exitCode: null, signal: null, notRun: 'source-mismatch' },
  { exitCode: 0, signal: null, notRun: 'source-mismatch' },
]
const payableJobs = [
  { status: 'success', result: { exitCode: 0 } },
  { status: 'failed', result: { exitCode: 2 } },
  { status: 'canceled', result: { exitCode: 0 } },
  { status: 'running', result: { exitCode: null, signal: 'agent-lost' } },
  { status: 'trigger_failed', result: null },
  { status: 'canceled', result: null },
  { status: 'skipped', result: null },
  { status: 'running', result: null },
  { status: 'queued', result: null },
]
/** Jobs against their result deadline (resultBy, ms): at the deadline a job without a result is decided. */
const deadlineJobs = [
  { job: { status: 'running', result: null, resultBy: 1000 }, now: 999 },
  { job: { status: 'running', result: null, resultBy: 1000 }, now: 1000 },
  { job: { status: 'success', result: null, resultBy: 1000 }, now: 5000 },
  // A result stored in time decides by the rule, whenever it is read.
  { job: { status: 'success', result: { exitCode: 0 }, resultBy: 1000 }, now: 5000 },
  // A more specific reason wins over the deadline.
  { job: { status: 'trigger_failed', result: null, resultBy: 1000 }, now: 5000 },
]

const dec = (xs: readonly bigint[]) => xs.map(String)

/** Computes every vector from the fixed inputs: the committed vectors.json must equal this. */
export async function computeVectors() {
  const helloCid = CID.createV1(raw.code, await mhSha256.digest(helloBytes))
  const mDigest = manifestDigest(manifest)
  const outputs = checkOutputs(outputSpecs, writtenOutputs)
  const invalid = checkOutputs(outputSpecs, invalidWrittenOutputs)
  const withOutputs = { ...manifest, outputs }
  const withRan = { ...manifest, ran }
  const signedVoucher = signVoucher(voucher, keys.user.privateKey)
  // The user's key sponsors here (the vectors have no sponsor key of their own): two pool vouchers.
  const sponsorshipGrant = signSponsorshipGrant(
    {
      v: 1,
      service: keys.service.publicKey,
      sponsor: keys.user.publicKey,
      jobsPerUserPerDay: 3,
      endSlot: '200000',
      cap: '30',
    },
    { firstNonce: 1n, count: 2 },
    keys.user.privateKey,
  )
  const sponsored = signSponsoredRequest(
    { v: 1, ...request, expiresAt: 1_893_456_000 },
    keys.user.publicKey,
    keys.user.privateKey,
  )
  const leavesCid = settledLeavesCid(settledLeaves)
  const settle = settleMessage({
    service: keys.service.publicKey,
    user: keys.user.publicKey,
    leavesCid: unwrap(cidToFields(leavesCid)),
    ...settlement,
  })
  return {
    domains: {
      voucher: String(domainTag('zkrunner/voucher/v1')),
      manifest: String(domainTag('zkrunner/manifest/v1')),
      settle: String(domainTag('zkrunner/settle/v2')),
      resultLeaf: String(domainTag('zkrunner/result-leaf/v1')),
    },
    hello: {
      sha256: toHex(sha256(helloBytes)),
      fields: dec(unwrap(digestToFields(sha256(helloBytes)))),
      rawCid: helloCid.toString(),
      cidFields: dec(unwrap(cidToFields(helloCid))),
    },
    publicKeys: {
      user: dec(unwrap(publicKeyToFields(keys.user.publicKey))),
      service: dec(unwrap(publicKeyToFields(keys.service.publicKey))),
    },
    hpkeKeyId: keyId(keys.hpke.publicKey),
    descriptor: {
      canonical: canonicalJson(descriptor),
      sha256: toHex(sha256(new TextEncoder().encode(canonicalJson(descriptor)))),
    },
    voucher: {
      message: dec(
        voucherMessage({
          ...voucher,
          cumulativeAmount: BigInt(voucher.cumulativeAmount),
          nonce: BigInt(voucher.nonce),
        }),
      ),
      signature: signedVoucher.signature,
    },
    request: {
      digest: requestDigest(request),
    },
    manifest: {
      canonical: canonicalJson(manifest),
      digest: toHex(mDigest),
      message: dec(manifestMessage(mDigest)),
      signature: signManifest(manifest, keys.runner.privateKey).signature,
    },
    settledLeaves: {
      canonical: new TextDecoder().decode(settledLeavesBytes(settledLeaves)),
      cid: leavesCid.toString(),
      cidFields: dec(unwrap(cidToFields(leavesCid))),
    },
    resultLeaf: dec(
      resultLeafMessage({
        service: keys.service.publicKey,
        user: keys.user.publicKey,
        digest: mDigest,
      }),
    ),
    settle: {
      message: dec(settle),
      signature: signFields(settle, keys.runner.privateKey),
    },
    sourceCommitment: {
      prefix: 'zkrunner/source/v1',
      opening: sourceOpening,
      input: dec([
        BigInt(`0x${sourceOpening.salt}`),
        ...openingStringToFields(sourceOpening.providerUrl),
        ...openingStringToFields(sourceOpening.project),
        BigInt(`0x${sourceOpening.commit}`),
      ]),
      field: String(openingToField(sourceOpening)),
      text: privateCommitment(sourceOpening),
    },
    outputs: {
      prefix: 'zkrunner/outputs/v1',
      specs: outputSpecs,
      written: writtenOutputs,
      manifestOutputs: outputs,
      fields: dec(outputFields(outputs)),
      digest: String(outputsDigest(outputs)),
      invalid: {
        written: invalidWrittenOutputs,
        manifestOutputs: invalid,
        fields: dec(outputFields(invalid)),
        digest: String(outputsDigest(invalid)),
      },
      none: String(outputsDigest(undefined)),
      manifest: {
        canonical: canonicalJson(withOutputs),
        digest: toHex(manifestDigest(withOutputs)),
      },
    },
    ran: {
      value: ran,
      manifest: {
        canonical: canonicalJson(withRan),
        digest: toHex(manifestDigest(withRan)),
      },
    },
    payable: {
      manifests: payableRunEnds.map((end) => ({ end, is: payabilityOf(end) })),
      jobs: payableJobs.map((job) => ({ job, is: chargeOfJob(job) })),
      deadlines: {
        window: { maxJobSeconds: 600, graceSeconds: 60 },
        admittedAt: 1_700_000_000_000,
        resultBy: resultDeadline(1_700_000_000_000, { maxJobSeconds: 600, graceSeconds: 60 }),
        jobs: deadlineJobs.map(({ job, now }) => ({ job, now, is: chargeOfJob(job, now) })),
      },
    },
    driver: {
      spec: driverSpec,
      address: keys.service.publicKey,
      cases: driverCases.map((c) => ({
        ...c,
        is: checkDriver(driverSpec, keys.service.publicKey, driverFacts(c)),
      })),
    },
    availability: {
      defaults: {
        lastHeartbeatSlot: '100',
        currentSlot: '105',
        maxHeartbeatAgeSlots: '10',
        pricePerJob: '10',
      },
      cases: availabilityCases.map((c) => ({
        ...c,
        is: serviceAvailability(availabilityFacts(c)),
      })),
    },
    sponsorship: {
      domains: {
        sponsorship: String(domainTag('zkrunner/sponsorship/v1')),
        sponsoredRequest: String(domainTag('zkrunner/sponsored-request/v1')),
      },
      grant: sponsorshipGrant,
      message: dec(sponsorshipMessage(sponsorshipGrant.sponsorship)),
      sponsoredRequest: {
        submission: sponsored,
        message: dec(
          sponsoredRequestMessage({ ...sponsored.request, sponsor: sponsored.sponsored.sponsor }),
        ),
      },
    },
  }
}
