import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 as mhSha256 } from 'multiformats/hashes/sha2'
import {
  canonicalJson,
  chargeOfJob,
  cidToFields,
  digestToFields,
  domainTag,
  keyId,
  manifestDigest,
  manifestMessage,
  openingToField,
  payabilityOf,
  privateCommitment,
  publicKeyToFields,
  requestDigest,
  resultLeafMessage,
  settledLeavesBytes,
  settledLeavesCid,
  settleMessage,
  sha256,
  signFields,
  signManifest,
  signVoucher,
  stringToFields,
  toHex,
  unwrap,
  voucherMessage,
} from '../index.ts'
import {
  descriptor,
  helloBytes,
  keys,
  manifest,
  request,
  settledLeaves,
  settlement,
  sourceOpening,
  voucher,
} from './inputs.ts'

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

const dec = (xs: readonly bigint[]) => xs.map(String)

/** Computes every vector from the fixed inputs: the committed vectors.json must equal this. */
export async function computeVectors() {
  const helloCid = CID.createV1(raw.code, await mhSha256.digest(helloBytes))
  const mDigest = manifestDigest(manifest)
  const signedVoucher = signVoucher(voucher, keys.user.privateKey)
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
        ...stringToFields(sourceOpening.providerUrl),
        ...stringToFields(sourceOpening.project),
        BigInt(`0x${sourceOpening.commit}`),
      ]),
      field: String(openingToField(sourceOpening)),
      text: privateCommitment(sourceOpening),
    },
    payable: {
      manifests: payableRunEnds.map((end) => ({ end, is: payabilityOf(end) })),
      jobs: payableJobs.map((job) => ({ job, is: chargeOfJob(job) })),
    },
  }
}
