import { createServer } from 'node:http'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { Field, fetchAccount, Mina, PrivateKey, PublicKey, TokenId } from 'o1js'
import { type LocalChainNode, startLocalChain } from '../../../chain/index.ts'
import {
  claim,
  deployCreditToken,
  deployRegistry,
  deployService,
  deposit,
  evenLedgerKey,
  type FeePayer,
  mintCredits,
  publishService,
  readCredits,
  readUserChannel,
  settledResults,
} from '../../../contracts/client.ts'
import { currentTxnVersion } from '../../../contracts/compile.ts'
import { serviceDeployProps } from '../../../contracts/service-version.ts'
import {
  canonicalBytes,
  cidToFields,
  type GenuineCode,
  ledgerAddressOf,
  type ServiceDescriptor,
  settleMessage,
  sha256,
  signFields,
  unwrap,
  voucherMessage,
} from '../../../protocol/index.ts'
import { selectNetwork } from '../../../stack/deploy.ts'
import {
  CROSS_ORIGIN_HEADERS,
  listen,
  type RunningServer,
  startTrustlessGateway,
} from '../../../verify/test-support/trustless-gateway.ts'
import { servePage } from './stack.ts'
import { startWorkerDouble } from './worker-double.ts'

// The page against a real chain: the local Mina node (chain/, an o1js LocalBlockchain behind the
// daemon and archive GraphQL APIs, proofs not verified, slots moved by the test) with the credit
// token, the registry and one service deployed with its ChannelLedger and LedgerVault, as the
// local stack deploys them, but not compiled: with proofs off o1js deploys a dummy verification
// key (compiling ChannelLedger natively takes a quarter of an hour cold), so the page's genuine
// code is the one deployed here. The page builds every ledger transaction in its prover worker with
// o1js's dummy proofs (config dummyProofs) and sends it to that node: the node applies it with
// the ledger's rules, so what the page shows afterwards is what the chain holds. The archive is
// reached through a proxy the test can make lie.

export const PRICE = 5n
export const TIMELOCK = 20

export interface LedgerStack {
  pageUrl: string
  node: LocalChainNode
  deployment: { token: string; registry: string; creditTokenId: string; genuine: GenuineCode }
  service: PublicKey
  /** The page's dev wallet (a funded dev account holding credits). */
  user: PrivateKey
  /** Another funded key holding credits, with no stake in the user's channel. */
  stranger: PrivateKey
  payer: FeePayer
  /** The runner lands a claim for `user`'s jobs (manifest digests, all of them) under a voucher. */
  runnerClaims(
    user: PrivateKey,
    digests: Uint8Array[],
    amount: bigint,
    nonce: bigint,
  ): Promise<void>
  /** `from` (who signs and pays) deposits `amount` credits for `beneficiary`, as a sponsor may. */
  depositFor(from: PrivateKey, beneficiary: PublicKey, amount: bigint): Promise<void>
  /** Makes the archive (as the page reaches it) drop the last block of a ledger's actions, or stop. */
  setArchiveLie(lie: boolean): void
  readUserChannel(user: PublicKey): ReturnType<typeof readUserChannel>
  readCredits(owner: PublicKey): Promise<bigint>
  close(): Promise<void>
}

/** Forwards archive GraphQL to the node; lying, drops the last block of every `actions` answer. */
async function archiveProxy(target: string, lying: () => boolean): Promise<RunningServer> {
  const server = createServer(async (req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...CROSS_ORIGIN_HEADERS,
        'access-control-allow-origin': '*',
        'access-control-allow-headers': '*',
        'access-control-allow-methods': 'POST, GET, OPTIONS',
      })
      res.end()
      return
    }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString()
    const upstream = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    let text = await upstream.text()
    if (lying() && body.includes('actions')) {
      const parsed = JSON.parse(text) as { data?: { actions?: unknown[] } }
      if (parsed.data?.actions?.length) parsed.data.actions.pop()
      text = JSON.stringify(parsed)
    }
    res.writeHead(upstream.status, {
      ...CROSS_ORIGIN_HEADERS,
      'access-control-allow-origin': '*',
      'content-type': 'application/json',
    })
    res.end(text)
  })
  return listen(server)
}

export async function startLedgerStack(opts: {
  pageDir: string
  log: (line: string) => void
}): Promise<LedgerStack> {
  const node = await startLocalChain({ port: 0, proofsEnabled: false, autoAdvance: false })
  selectNetwork(node.url, node.archiveUrl, node.networkId, { prove: false })
  const key = (i: number) => PrivateKey.fromBase58(node.accounts[i]!.privateKey)
  const payer: FeePayer = { key: key(0) }
  const user = key(1)
  const runnerKey = key(2)
  const stranger = key(3)

  const blocks = new MemoryBlockstore()
  const gateway = await startTrustlessGateway(blocks)
  const worker = await startWorkerDouble({
    status: (address) => ({
      service: address,
      enabled: true,
      registered: true,
      descriptor: null,
      descriptorCid: null,
      chain: null,
    }),
    complete: async () => {
      throw new Error('this stack runs no jobs')
    },
  })
  const sourceCommitment = 'c0ffee0000000000000000000000000000000042'
  const descriptor: ServiceDescriptor = {
    v: 1,
    name: 'ledger flows',
    description: 'A service whose ChannelLedger the page pays into and withdraws from.',
    provider: 'gitlab',
    providerUrl: 'http://127.0.0.1:1/',
    project: 'zkrunner/demo',
    ref: 'main',
    job: 'test',
    sourceCommitment,
    pricePerJob: String(PRICE),
    runnerPublicKey: runnerKey.toPublicKey().toBase58(),
    workerPublicKey: worker.keys.publicKey,
    parameters: [],
  }
  const bytes = canonicalBytes(descriptor)
  const descriptorCid = CID.createV1(0x55, createDigest(0x12, sha256(bytes)))
  await blocks.put(descriptorCid, bytes)

  const tokenKey = PrivateKey.random()
  const adminKey = PrivateKey.random()
  const registryKey = PrivateKey.random()
  const serviceKey = PrivateKey.random()
  const service = serviceKey.toPublicKey()
  const included = async (p: { wait: () => Promise<unknown> }) => {
    await p.wait()
  }
  opts.log('deploying the credit token, the registry and the service (dummy keys)…')
  await included(
    await deployCreditToken(payer, {
      tokenKey,
      adminContractKey: PrivateKey.random(),
      admin: adminKey.toPublicKey(),
      symbol: 'CRED',
      decimals: 0,
      src: 'https://github.com/zkrunner/zkrunner',
    }),
  )
  for (const u of [user, stranger])
    await included(await mintCredits(payer, adminKey, u.toPublicKey(), 100n))
  await included(await deployRegistry(payer, registryKey))
  await included(
    await deployService(
      payer,
      serviceKey,
      evenLedgerKey(),
      serviceDeployProps(
        {
          sourceCommitment,
          pricePerJob: String(PRICE),
          runnerPublicKey: descriptor.runnerPublicKey,
          workerPublicKey: descriptor.workerPublicKey,
        },
        descriptorCid.toString(),
        TIMELOCK,
      ),
    ),
  )
  await included(
    await publishService(
      payer,
      registryKey.toPublicKey(),
      runnerKey,
      service,
      unwrap(cidToFields(descriptorCid)),
    ),
  )
  const vkHash = async (address: PublicKey, tokenId?: Field) => {
    await fetchAccount({ publicKey: address, ...(tokenId ? { tokenId } : {}) })
    return Mina.getAccount(address, tokenId).zkapp!.verificationKey!.hash.toString()
  }
  await fetchAccount({ publicKey: service })
  const serviceState = Mina.getAccount(service).zkapp!.appState.map((f) => f.toBigInt())
  const ledger = PublicKey.fromBase58(ledgerAddressOf(serviceState)!)
  const creditTokenId = TokenId.derive(tokenKey.toPublicKey())
  const deployment = {
    token: tokenKey.toPublicKey().toBase58(),
    registry: registryKey.toPublicKey().toBase58(),
    creditTokenId: TokenId.toBase58(creditTokenId),
    genuine: {
      serviceVkHash: await vkHash(service),
      ledgerVkHash: await vkHash(ledger),
      ledgerVaultVkHash: await vkHash(ledger, creditTokenId),
      txnVersion: currentTxnVersion(),
    },
  }

  let lying = false
  const archive = await archiveProxy(node.archiveUrl, () => lying)
  const page = await servePage(opts.pageDir, {
    workerUrl: worker.url,
    minaGraphqlUrl: node.url,
    archiveUrl: archive.url,
    gateways: [gateway.url],
    networkId: 'testnet',
    registryAddress: deployment.registry,
    tokenAddress: deployment.token,
    creditTokenId: deployment.creditTokenId,
    genuineCode: deployment.genuine,
    devKey: user.toBase58(),
    dummyProofs: true,
  })

  return {
    pageUrl: page.url,
    node,
    deployment,
    service,
    user,
    stranger,
    payer,
    runnerClaims: async (u, digests, amount, nonce) => {
      const owner = { service: service.toBase58(), user: u.toPublicKey().toBase58() }
      const results = settledResults(owner, digests)
      const voucher = {
        cumulativeAmount: amount,
        nonce,
        signature: signFields(
          voucherMessage({ service: owner.service, cumulativeAmount: amount, nonce }),
          u.toBase58(),
        ),
      }
      const leavesCid: [bigint, bigint] = [0x55n << 128n, 1n]
      const runnerSignature = signFields(
        settleMessage({
          service: owner.service,
          user: owner.user,
          resultsRoot: results.root.toBigInt(),
          resultsCount: results.count,
          leavesCid,
          cumulativeAmount: amount,
          nonce,
        }),
        runnerKey.toBase58(),
      )
      await (
        await claim(payer, {
          service,
          user: u.toPublicKey(),
          voucher,
          results,
          leavesCid: [Field(leavesCid[0]), Field(leavesCid[1])],
          runner: runnerKey.toPublicKey(),
          runnerSignature,
        })
      ).wait()
    },
    depositFor: async (from, beneficiary, amount) => {
      await (await deposit(payer, service, from, beneficiary, amount)).wait()
    },
    setArchiveLie: (lie) => {
      lying = lie
    },
    readUserChannel: (u) => readUserChannel(service, u),
    readCredits: (owner) => readCredits(owner),
    close: async () => {
      await Promise.all([page.close(), worker.close(), gateway.close(), archive.close()])
      await node.close()
    },
  }
}
