import { Field, setBackend, UInt32 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { cidToFields, settledLeavesCid, toHex, unwrap } from '../protocol/index.ts'
import * as client from './client.ts'
import { compileAll } from './compile.ts'
import { startTestChain, TEST_TOKEN_KEY, type TestChain, type TestService } from './test-chain.ts'

// Proofs on, native backend, keys cached under .zkrunner/o1js-cache: the one flow that proves
// every transaction for real. Compile happens once here.
setBackend('native')

let chain: TestChain
let svc: TestService
const JOBS = 40

beforeAll(async () => {
  const times = await compileAll(TEST_TOKEN_KEY.toPublicKey())
  console.log('compile seconds', times)
  chain = await startTestChain({ proofsEnabled: true, users: 1, credits: 10_000n })
  svc = await chain.deployService({ price: 10n, timelock: 20 })
})

describe('full flow with proofs', () => {
  it('deposit → claim many jobs, one batch → redeem; withdraw → batch → refund the remainder', async () => {
    const user = chain.users[0]!
    await client.deposit(chain.payer, svc.address, user, user.toPublicKey(), 1_000n)
    const digests = Array.from({ length: JOBS }, (_, i) => new Uint8Array(32).fill(i + 1))
    const leaves = settledLeavesCid({
      v: 1,
      service: svc.address.toBase58(),
      user: user.toPublicKey().toBase58(),
      manifestDigests: digests.map(toHex),
    })
    const [cid0, cid1] = unwrap(cidToFields(leaves))
    const leavesCid: [Field, Field] = [Field(cid0), Field(cid1)]
    const v = chain.voucher(user, svc, BigInt(JOBS) * svc.price, 1n)
    const t0 = performance.now()
    const results = client.settledResults(
      { service: svc.address.toBase58(), user: user.toPublicKey().toBase58() },
      digests,
    )
    await client.claim(chain.payer, {
      service: svc.address,
      user: user.toPublicKey(),
      voucher: v,
      results,
      leavesCid,
      runner: svc.runnerKey.toPublicKey(),
      runnerSignature: chain.runnerSign(svc, user.toPublicKey(), results, leavesCid, v),
    })
    await client.processBatches(chain.payer, svc.address, svc.runnerKey.toPublicKey())
    console.log('claim + batch (build+prove+send) seconds', (performance.now() - t0) / 1000)
    await client.redeem(chain.payer, svc.address, svc.runnerKey, 400n)
    expect(await client.readCredits(svc.runnerKey.toPublicKey())).toBe(400n)

    const slot = Number(chain.local.getNetworkState().globalSlotSinceGenesis.toBigint())
    await client.requestWithdraw(chain.payer, svc.address, user, 1n)
    chain.local.setGlobalSlot(UInt32.from(slot + 10 + 20))
    await client.withdraw(chain.payer, svc.address, user)
    await client.processBatches(chain.payer, svc.address, svc.runnerKey.toPublicKey())
    const before = await client.readCredits(user.toPublicKey())
    await client.refund(chain.payer, svc.address, user)
    expect(await client.readCredits(user.toPublicKey())).toBe(before + 600n)
    expect(await client.readEscrow(svc.address)).toBe(0n)
  })
})
