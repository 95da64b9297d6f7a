import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { Field, Mina, Poseidon, PrivateKey, PublicKey, setBackend } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readServiceAccounts } from '../../contracts/index.ts'
import {
  checkGenuineService,
  generateHpkeKeyPair,
  publicKeyToFields,
  sha256,
  unwrap,
} from '../../protocol/index.ts'
import { type Deployment, ensureDeployed } from '../../stack/deploy.ts'
import {
  decodeServiceState,
  GraphqlChainReader,
  ownListings,
  registryEntries,
} from '../../static-site/src/chain-reader.ts'
import { type LocalChainNode, startLocalChain } from '../index.ts'

// Operators cannot take deposits, on the real path: the local node started as the stack starts it
// (slots move with time), a service deployed through Mina.Network by the stack's own deploy code,
// and both of its accounts read back with the protocol's GraphQL query (the one the Worker and
// the page send) must come out genuine and frozen against the compiled contracts. So must the
// Node reader the deploy CLI's `status` uses, and the registry entry the stack published must be
// one the page lists (published by the service's own runner key).

let node: LocalChainNode
let deployment: Deployment
// The runner is a funded dev account, as the stack's is (its publish pays for its own update).
let runnerKey: PrivateKey

beforeAll(async () => {
  setBackend('native')
  node = await startLocalChain({ port: 0 })
  Mina.setActiveInstance(
    Mina.Network({ networkId: node.networkId, mina: node.url, archive: node.archiveUrl }),
  )
  const payer = { key: PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? '') }
  runnerKey = PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '')
  const descriptorCid = CID.createV1(
    0x55,
    createDigest(0x12, sha256(new TextEncoder().encode('a descriptor'))),
  ).toString()
  deployment = await ensureDeployed({
    payer,
    tokenKey: PrivateKey.random(),
    tokenAdminContractKey: PrivateKey.random(),
    tokenAdminKey: PrivateKey.random(),
    registryKey: PrivateKey.random(),
    serviceKey: PrivateKey.random(),
    runnerKey,
    users: [],
    creditsPerUser: 0n,
    pricePerJob: 10n,
    withdrawTimelockSlots: 100,
    sourceCommitment: 'a91957a858320c0e17f3a0eca7cfacbff50ea29a',
    descriptorCid,
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    log: () => {},
  })
})

afterAll(async () => {
  await node?.close()
})

describe('a service deployed the real way is genuine', () => {
  it('reads both accounts with the shared GraphQL query and judges them genuine and frozen', async () => {
    const reader = new GraphqlChainReader(node.url, node.archiveUrl)
    const accounts = await reader.serviceAccounts(deployment.service, deployment.creditTokenId)
    // The frozen verification key is read back as the object it is, with its version.
    expect(accounts.service?.permissions?.setVerificationKey).toEqual({
      auth: 'Impossible',
      txnVersion: deployment.genuine.txnVersion,
    })
    expect(accounts.vault?.permissions?.setVerificationKey).toEqual({
      auth: 'Impossible',
      txnVersion: deployment.genuine.txnVersion,
    })
    expect(checkGenuineService(accounts, deployment.genuine)).toEqual({ genuine: true })
  })

  it('judges it genuine through the Node reader the deploy CLI uses', async () => {
    const accounts = await readServiceAccounts(PublicKey.fromBase58(deployment.service), node.url)
    expect(checkGenuineService(accounts, deployment.genuine)).toEqual({ genuine: true })
  })

  it("lists the stack's registry entry: published by the service's own runner key", async () => {
    const reader = new GraphqlChainReader(node.url, node.archiveUrl)
    const poseidon = async (fields: bigint[]) =>
      Poseidon.hash(fields.map((f) => Field(f))).toBigInt()
    const runnerKeyHash = async (service: string) => {
      const state = await reader.zkappState(service)
      return state ? decodeServiceState(state).runnerKeyHash : null
    }
    const entries = registryEntries(await reader.events(deployment.registry))
    const own = await ownListings(entries, runnerKeyHash, poseidon)
    expect(own.map((e) => e.service)).toEqual([deployment.service])
    expect(await runnerKeyHash(deployment.service)).toBe(
      await poseidon(unwrap(publicKeyToFields(runnerKey.toPublicKey().toBase58()))),
    )
  })
})
