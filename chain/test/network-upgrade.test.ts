import { AccountUpdate, Mina, PrivateKey } from 'o1js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readUpgradeNotice } from '../../contracts/service-accounts.ts'
import { stopSlotsOf, upgradeNotice } from '../../protocol/index.ts'
import { type LocalChainNode, startLocalChain } from '../index.ts'

// A node of a stop-slot release announces the hard fork in GraphQL `runtimeConfig` (as Mina's
// daemon does) and takes no transaction from its stop slot on: the page reads the one to warn
// users, and the other is why they must withdraw before it.

let node: LocalChainNode
const SLOT_TX_END = 30

beforeAll(async () => {
  node = await startLocalChain({ port: 0, autoAdvance: false, accounts: 2, slotTxEnd: SLOT_TX_END })
  Mina.setActiveInstance(Mina.Network({ mina: node.url, archive: node.archiveUrl }))
})

afterAll(async () => {
  await node?.close()
})

async function runtimeConfig(url: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ runtimeConfig }' }),
  })
  const body = (await res.json()) as { data?: { runtimeConfig?: unknown } }
  return body.data?.runtimeConfig
}

async function pay() {
  const key = PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? '')
  const to = PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '').toPublicKey()
  const tx = await Mina.transaction({ sender: key.toPublicKey(), fee: 10_000_000 }, async () => {
    AccountUpdate.createSigned(key.toPublicKey()).send({ to, amount: 1_000 })
  })
  const sent = await tx.sign([key]).safeSend()
  return sent.status === 'rejected' ? sent.errors.join('\n') : sent.status
}

it('announces its stop slot in runtimeConfig, as a stop-slot release does', async () => {
  const config = await runtimeConfig(node.url)
  expect(config).toMatchObject({ daemon: { slot_tx_end: SLOT_TX_END } })
  const slot = BigInt(node.chain.slotNow())
  expect(upgradeNotice(stopSlotsOf(config), slot)).toEqual({
    kind: 'announced',
    txEndSlot: BigInt(SLOT_TX_END),
    slotsLeft: BigInt(SLOT_TX_END) - slot,
  })
  // The deploy CLI's `status` reads it the same way from Node.
  expect(await readUpgradeNotice(node.url)).toEqual(upgradeNotice(stopSlotsOf(config), slot))
})

it('takes transactions before the stop slot and refuses them from it on', async () => {
  expect(await pay()).toBe('pending')
  await node.advanceSlots(SLOT_TX_END)
  expect(await pay()).toMatch(/After_slot_tx_end/)
  expect(
    upgradeNotice(stopSlotsOf(await runtimeConfig(node.url)), BigInt(node.chain.slotNow())),
  ).toEqual({
    kind: 'stopped',
    txEndSlot: BigInt(SLOT_TX_END),
  })
})

it('announces nothing when no upgrade is planned', async () => {
  const plain = await startLocalChain({ port: 0, autoAdvance: false, accounts: 1 })
  try {
    expect(stopSlotsOf(await runtimeConfig(plain.url))).toEqual({ txEnd: null, chainEnd: null })
  } finally {
    await plain.close()
  }
})
