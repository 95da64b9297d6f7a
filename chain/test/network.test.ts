import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  Cache,
  Field,
  fetchAccount,
  Mina,
  PrivateKey,
  sendZkapp,
  setBackend,
  type Types,
} from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  EMPTY_ACTION_STATE,
  ledgerActionStateQuery,
  ledgerActionsQuery,
  nextActionState,
  parseLedgerActions,
  parseLedgerHead,
} from '../../protocol/index.ts'
import { type LocalChainNode, startLocalChain } from '../index.ts'
import { Counter, runCounterScenario, type ScenarioResult } from './counter.ts'
import { importO1jsInternal } from './o1js-internals.ts'

// o1js client code, unchanged, against the node: deploy, call, read state, events and actions.
// Against a Mina.Network o1js always proves, so the contract is compiled (keys cached on disk).

const CACHE_DIR = resolve(import.meta.dirname, '../../.zkrunner/o1js-cache')
const zkappKey = PrivateKey.fromBigInt(4242n)

function useNetwork(node: LocalChainNode) {
  Mina.setActiveInstance(
    Mina.Network({
      networkId: node.networkId,
      mina: node.url,
      archive: node.archiveUrl,
      lightnetAccountManager: node.accountManagerUrl,
    }),
  )
}

const senderOf = (node: LocalChainNode) => PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? '')

beforeAll(async () => {
  setBackend('native')
  await Counter.compile({ cache: Cache.FileSystem(CACHE_DIR) })
})

describe('with proofs off', () => {
  let dir: string
  let node: LocalChainNode
  let expected: ScenarioResult
  let actual: ScenarioResult

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zkrunner-chain-'))
    const local = await Mina.LocalBlockchain({ proofsEnabled: false })
    Mina.setActiveInstance(local)
    expected = await runCounterScenario({
      senderKey: local.testAccounts[0]?.key ?? PrivateKey.random(),
      zkappKey,
      network: false,
    })
    node = await startLocalChain({
      port: 0,
      autoAdvance: false,
      stateFile: join(dir, 'chain.json'),
    })
    useNetwork(node)
    actual = await runCounterScenario({ senderKey: senderOf(node), zkappKey, network: true })
  })

  afterAll(async () => {
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('gives the same state, events and actions as LocalBlockchain directly', () => {
    expect(actual.count).toBe('7')
    expect(actual.events).toEqual([
      { type: 'bumped', data: '4' },
      { type: 'bumped', data: '3' },
    ])
    expect(actual.reducerActions).toEqual(['3', '4'])
    expect(actual.failedCallRejected).toBe(true)
    expect(actual).toEqual(expected)
  })

  it('answers protocol’s action reader: the archive’s actions hash to the node’s action state', async () => {
    const ask = async (url: string, query: string) =>
      (
        (await (
          await fetch(url, {
            method: 'POST',
            body: JSON.stringify({ query }),
            headers: { 'content-type': 'application/json' },
          })
        ).json()) as { data: unknown }
      ).data
    const address = zkappKey.toPublicKey().toBase58()
    const head = parseLedgerHead(await ask(node.url, ledgerActionStateQuery(address)))
    expect(head.actionState).not.toBe(EMPTY_ACTION_STATE)
    const data = await ask(node.archiveUrl, ledgerActionsQuery(address, head.actionState))
    // The Counter dispatches one Field a call: the reader re-hashes them into the node's state.
    expect(parseLedgerActions(data, head.actionState, EMPTY_ACTION_STATE, 100, 1)).toEqual([
      [3n],
      [4n],
    ])
    // Up to an earlier action state: only the actions before it.
    const first = nextActionState(EMPTY_ACTION_STATE, [[3n]])
    const upTo = await ask(node.archiveUrl, ledgerActionsQuery(address, first))
    expect(parseLedgerActions(upTo, first, EMPTY_ACTION_STATE, 100, 1)).toEqual([[3n]])
    // From an earlier action state (fromActionState, exclusive): only the actions after it, which
    // hash from that state to the node's (what an incremental reader continues with).
    const after = await ask(node.archiveUrl, ledgerActionsQuery(address, head.actionState, first))
    expect(parseLedgerActions(after, head.actionState, first, 100, 1)).toEqual([[4n]])
    // Checked against a state the chain never had: refused.
    expect(() => parseLedgerActions(data, first, EMPTY_ACTION_STATE, 100, 1)).toThrow(/do not hash/)
  })

  it('reports the failed command in its block with the daemon failure names', async () => {
    const failed = node.chain
      .bestChain()
      .flatMap((b) => b.commands)
      .find((c) => c.status === 'failed')
    expect(failed?.failureReason).toEqual([
      { index: '1', failures: ['Account_balance_precondition_unsatisfied'] },
    ])
  })

  it('survives a restart from its state file', async () => {
    const before = node.chain.tip()
    const hashes = node.chain.bestChain().flatMap((b) => b.commands.map((c) => c.hash))
    await node.close()
    node = await startLocalChain({
      port: 0,
      autoAdvance: false,
      stateFile: join(dir, 'chain.json'),
    })
    useNetwork(node)
    expect(node.chain.tip().height).toBe(before.height)
    const { account } = await fetchAccount({ publicKey: zkappKey.toPublicKey() })
    expect(account?.zkapp?.appState[0]?.toString()).toBe('7')
    const zkapp = new Counter(zkappKey.toPublicKey())
    expect(
      (await zkapp.fetchEvents()).map((e) => (e.event.data as unknown as Field).toString()),
    ).toEqual(['4', '3'])
    const actions = await Mina.fetchActions(zkapp.address)
    expect(Array.isArray(actions) && actions.map((a) => a.hash)).toEqual(expected.actionHashes)
    for (const hash of hashes) expect(node.chain.findCommand(hash)).toBeDefined()
    // And it goes on: one more call after the restart.
    const sender = senderOf(node)
    await fetchAccount({ publicKey: sender.toPublicKey() })
    const tx = await Mina.transaction({ sender: sender.toPublicKey(), fee: 1e7 }, async () => {
      await zkapp.bump(Field(1))
    })
    await tx.prove()
    await (await tx.sign([sender]).send()).wait()
    await fetchAccount({ publicKey: zkapp.address })
    expect(zkapp.count.get().toString()).toBe('8')
  })
})

describe('with proofs on', () => {
  let node: LocalChainNode

  beforeAll(async () => {
    node = await startLocalChain({ port: 0, autoAdvance: false, proofsEnabled: true })
    useNetwork(node)
  })

  afterAll(async () => {
    await node?.close()
  })

  it('deploys, calls and reads back with verified proofs', async () => {
    const result = await runCounterScenario({ senderKey: senderOf(node), zkappKey, network: true })
    expect(result.count).toBe('7')
    expect(result.reducerActions).toEqual(['3', '4'])
    expect(result.events.map((e) => e.data)).toEqual(['4', '3'])
    expect(result.failedCallRejected).toBe(true)
  })

  it('refuses a command whose proof does not verify', async () => {
    const sender = senderOf(node)
    const zkapp = new Counter(zkappKey.toPublicKey())
    await fetchAccount({ publicKey: sender.toPublicKey() })
    await fetchAccount({ publicKey: zkapp.address })
    const tx = await Mina.transaction({ sender: sender.toPublicKey(), fee: 1e7 }, async () => {
      await zkapp.bump(Field(5))
    })
    await tx.prove()
    const json = JSON.parse(tx.sign([sender]).toJSON()) as Types.Json.ZkappCommand
    const { dummyBase64Proof } = await importO1jsInternal<{ dummyBase64Proof(): Promise<string> }>(
      'lib/proof-system/zkprogram.js',
    )
    const forged = structuredClone(json)
    const proved = forged.accountUpdates.find((au) => au.authorization.proof)
    if (!proved) throw new Error('expected a proved account update')
    proved.authorization.proof = await dummyBase64Proof()
    const [, error] = await sendZkapp(JSON.stringify(forged), node.url)
    expect(error?.statusText).toMatch(/Verification_failed/)
    const [response, okError] = await sendZkapp(JSON.stringify(json), node.url)
    expect(okError).toBeUndefined()
    expect(response?.data?.sendZkapp?.zkapp?.hash).toMatch(/^5J/)
    await fetchAccount({ publicKey: zkapp.address })
    expect(zkapp.count.get().toString()).toBe('12')
  })
})

describe('slots', () => {
  it('move with time, and on demand', async () => {
    const node = await startLocalChain({ port: 0, blockIntervalMs: 100 })
    try {
      const start = node.chain.tip()
      const deadline = Date.now() + 10_000
      while (node.chain.tip().height <= start.height + 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50))
      expect(node.chain.tip().height).toBeGreaterThan(start.height + 2)
      expect(node.chain.tip().slot).toBeGreaterThan(start.slot)
      const jumped = await node.advanceSlots(100)
      expect(jumped.slot).toBeGreaterThanOrEqual(start.slot + 100)
      const res = await fetch(node.url.replace('/graphql', '/local/advance-slots'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ slots: 10 }),
      })
      const { slot } = (await res.json()) as { slot: number }
      expect(slot).toBeGreaterThanOrEqual(jumped.slot + 10)
      useNetwork(node)
      const { fetchCurrentSlot, fetchLastBlock } = await import('o1js')
      expect(Number(await fetchCurrentSlot(node.url))).toBeGreaterThanOrEqual(slot)
      expect(
        (await fetchLastBlock(node.url)).globalSlotSinceGenesis.toBigint(),
      ).toBeGreaterThanOrEqual(BigInt(slot))
    } finally {
      await node.close()
    }
  })

  it('stay put in manual mode until advanced', async () => {
    const node = await startLocalChain({ port: 0, blockIntervalMs: 100, autoAdvance: false })
    try {
      const start = node.chain.tip()
      await new Promise((r) => setTimeout(r, 400))
      expect(node.chain.tip()).toEqual(start)
      const block = await node.advanceSlots(5)
      expect(block.slot).toBe(start.slot + 5)
      expect(block.height).toBe(start.height + 1)
    } finally {
      await node.close()
    }
  })
})
