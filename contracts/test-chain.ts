import { Field, Mina, PrivateKey, PublicKey, UInt32, UInt64 } from 'o1js'
import { heartbeatMessage, settleMessage, signFields, voucherMessage } from '../protocol/index.ts'
import * as client from './client.ts'
import type { ResultsOwner } from './results-tree.ts'

// A LocalBlockchain with the credit token, one or more services and funded users, shared by the
// tests, the property test and the benchmark. Keys are derived from fixed seeds so compiled
// circuits (which embed the credit token address) hit the cache from run to run.

/** Fixed key for tests: the same seed gives the same key in every run. */
export function seededKey(seed: number): PrivateKey {
  return PrivateKey.fromBigInt(0x7a6b72756e6e6572n * 1_000_003n + BigInt(seed))
}

/** The deterministic credit token key used by tests and the benchmark. */
export const TEST_TOKEN_KEY = seededKey(1)

/** One deployed test service and its off-chain state. */
export interface TestService {
  key: PrivateKey
  address: PublicKey
  runnerKey: PrivateKey
  /** Key of the service's ChannelLedger (even y). */
  ledgerKey: PrivateKey
  ledger: PublicKey
  price: bigint
  timelock: number
}

/** A local chain with a credit token, an admin, users holding credits, and helpers. */
export interface TestChain {
  local: Awaited<ReturnType<typeof Mina.LocalBlockchain>>
  payer: client.FeePayer
  adminKey: PrivateKey
  users: PrivateKey[]
  deployService(opts?: { price?: bigint; timelock?: number; seed?: number }): Promise<TestService>
  voucher(
    user: PrivateKey,
    s: TestService,
    cumulativeAmount: bigint,
    nonce: bigint,
  ): client.SignedVoucher
  runnerSign(
    s: TestService,
    user: PublicKey,
    results: { root: Field; count: bigint },
    leavesCid: [Field, Field],
    v: client.SignedVoucher,
    key?: PrivateKey,
  ): string
  heartbeatSign(s: TestService, slot: bigint, key?: PrivateKey): string
  /**
   * Lands the runner's claim of `user`'s results `digests` (the whole leaf list) with voucher `v`
   * in the service's ledger (a batch applies it: `client.processBatches`). The options forge one
   * part: the claimed count, the signing key, the runner named, the owner the leaves are built
   * for, or the leaves CID sent beside the signed one.
   */
  claimResults(
    s: TestService,
    user: PublicKey,
    digests: readonly Uint8Array[],
    v: client.SignedVoucher,
    forge?: {
      count?: bigint
      runnerKey?: PrivateKey
      runnerParam?: PrivateKey
      owner?: ResultsOwner
      sentLeavesCid?: [Field, Field]
    },
  ): ReturnType<typeof client.claim>
}

/** A seeded key with an even y (a ledger key), the first at or after `seed`. */
export function seededEvenKey(seed: number): PrivateKey {
  for (let s = seed; ; s++) {
    const k = seededKey(s)
    if (!k.toPublicKey().isOdd.toBoolean()) return k
  }
}

/** Any leaves CID: the contracts never read the document, the runner signs its CID. */
export const TEST_LEAVES_CID: [Field, Field] = [Field(0x55n << 128n), Field(1)]

/** A distinct manifest digest per index, for tests that need results. */
export function testDigests(count: number, from = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const d = new Uint8Array(32)
    new DataView(d.buffer).setUint32(0, from + i + 1)
    return d
  })
}

let serviceSeed = 1000

/** Starts a LocalBlockchain and deploys the credit token; users get `credits` each. */
export async function startTestChain(
  opts: { proofsEnabled?: boolean; users?: number; credits?: bigint } = {},
): Promise<TestChain> {
  const local = await Mina.LocalBlockchain({ proofsEnabled: opts.proofsEnabled ?? false })
  Mina.setActiveInstance(local)
  const [deployer, ...rest] = local.testAccounts
  const payer: client.FeePayer = { key: deployer!.key }
  // The admin signs mints, so it needs a MINA account: take the last funded test account.
  const adminKey = local.testAccounts[local.testAccounts.length - 1]!.key
  await client.deployCreditToken(payer, {
    tokenKey: TEST_TOKEN_KEY,
    adminContractKey: seededKey(3),
    admin: adminKey.toPublicKey(),
    symbol: 'CRED',
    decimals: 0,
    src: 'https://example.invalid/zkrunner/contracts/credit-token.ts',
  })
  const users = rest.slice(0, opts.users ?? 3).map((a) => a.key)
  for (const u of users) {
    await client.mintCredits(payer, adminKey, u.toPublicKey(), opts.credits ?? 1_000_000n)
  }
  const runnerSign: TestChain['runnerSign'] = (s, user, results, leavesCid, v, key) => {
    const fields = settleMessage({
      service: s.address.toBase58(),
      user: user.toBase58(),
      resultsRoot: results.root.toBigInt(),
      resultsCount: results.count,
      leavesCid: [leavesCid[0].toBigInt(), leavesCid[1].toBigInt()],
      cumulativeAmount: v.cumulativeAmount,
      nonce: v.nonce,
    })
    return signFields(fields, (key ?? s.runnerKey).toBase58())
  }
  return {
    local,
    payer,
    adminKey,
    users,
    async deployService(o = {}) {
      const seed = o.seed ?? serviceSeed++
      const key = seededKey(seed)
      const runnerKey = seededKey(seed + 500_000)
      const price = o.price ?? 10n
      const timelock = o.timelock ?? 100
      // Far apart: seededEvenKey walks up from its seed until the key has an even y.
      const ledgerKey = seededEvenKey(seed * 1000 + 2_000_000)
      await client.deployService(payer, key, ledgerKey, {
        sourceCommitment: Field(0xc0ffee_0000_0000_0000_0000_0000_0000_0000_0000n),
        descriptorCid: [Field(0x55n << 128n), Field(seed)],
        pricePerJob: UInt64.from(price),
        withdrawTimelockSlots: UInt32.from(timelock),
        runner: runnerKey.toPublicKey(),
        workerKeyHash: Field(42),
      })
      return {
        key,
        address: key.toPublicKey(),
        runnerKey,
        ledgerKey,
        ledger: ledgerKey.toPublicKey(),
        price,
        timelock,
      }
    },
    voucher(user, s, cumulativeAmount, nonce) {
      const fields = voucherMessage({ service: s.address.toBase58(), cumulativeAmount, nonce })
      return { cumulativeAmount, nonce, signature: signFields(fields, user.toBase58()) }
    },
    runnerSign,
    claimResults(s, user, digests, v, forge = {}) {
      const owner = forge.owner ?? { service: s.address.toBase58(), user: user.toBase58() }
      const proved = client.settledResults(owner, digests)
      const results = { ...proved, count: forge.count ?? proved.count }
      return client.claim(payer, {
        service: s.address,
        user,
        voucher: v,
        results,
        leavesCid: forge.sentLeavesCid ?? TEST_LEAVES_CID,
        runner: (forge.runnerParam ?? s.runnerKey).toPublicKey(),
        runnerSignature: runnerSign(
          s,
          user,
          results,
          TEST_LEAVES_CID,
          v,
          forge.runnerKey ?? forge.runnerParam,
        ),
      })
    },
    heartbeatSign(s, slot, key) {
      const fields = heartbeatMessage({ service: s.address.toBase58(), slot })
      return signFields(fields, (key ?? s.runnerKey).toBase58())
    },
  }
}
