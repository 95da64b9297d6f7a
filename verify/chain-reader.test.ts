import { describe, expect, it } from 'vitest'
import { cidToFields, generateMinaKeyPair, publicKeyToFields, unwrap } from '../protocol/index.ts'
import {
  GraphqlChainReader,
  ownListings,
  registryEntries,
  registryListings,
} from './chain-reader.ts'
import { fieldsToPublicKey } from './mina-address.ts'
import { nodePoseidon } from './test-support/genuine.ts'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
// A final block at `height`: events in it keep their array order.
const at = (height: number) => ({
  height,
  slot: height,
  chainStatus: 'canonical',
  sequence: 0,
  index: 0,
})

describe('chain reader decoding', () => {
  it('rebuilds a base58 public key from its fields', () => {
    const { publicKey } = generateMinaKeyPair()
    const [x, odd] = unwrap(publicKeyToFields(publicKey))
    expect(fieldsToPublicKey(x, odd)).toBe(publicKey)
  })

  it('lists published services and drops the ones their operator retired', () => {
    const [s1, s2, op] = [generateMinaKeyPair(), generateMinaKeyPair(), generateMinaKeyPair()].map(
      (k) => unwrap(publicKeyToFields(k.publicKey)),
    )
    const [c0, c1] = unwrap(cidToFields(CID))
    const entries = registryEntries([
      { ...at(1), data: [0n, ...s1!, ...op!, c0, c1] },
      { ...at(2), data: [0n, ...s2!, ...op!, c0, c1] },
      { ...at(3), data: [1n, ...s1!, ...op!] },
    ])
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ descriptorCid: CID, height: 2 })
    expect(entries[0]?.service).toBe(fieldsToPublicKey(s2![0], s2![1]))
  })

  it('keeps retired listings for the operator view, and only their operator retires them', () => {
    const [s1, s2, op, stranger] = [1, 2, 3, 4]
      .map(() => generateMinaKeyPair())
      .map((k) => unwrap(publicKeyToFields(k.publicKey)))
    const [c0, c1] = unwrap(cidToFields(CID))
    const listings = registryListings([
      { ...at(1), data: [0n, ...s1!, ...op!, c0, c1] },
      { ...at(2), data: [0n, ...s2!, ...op!, c0, c1] },
      { ...at(3), data: [1n, ...s1!, ...op!] },
      { ...at(4), data: [1n, ...s2!, ...stranger!] },
    ])
    expect(listings.map((l) => [l.height, l.retired])).toEqual([
      [2, false],
      [1, true],
    ])
  })

  it("keeps the first listing's descriptor and lists the operator's later CIDs as reveals, newest first", () => {
    const [sv, op, stranger] = [1, 2, 3]
      .map(() => generateMinaKeyPair())
      .map((k) => unwrap(publicKeyToFields(k.publicKey)))
    const REVEAL_1 = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    const REVEAL_2 = 'bafkreidvbhs33ighmljlvr7zbv2ywwzcmp5adtf4kqvlly67cy56bdtmve'
    const ev = (h: number, who: bigint[], cid: string) => {
      const [c0, c1] = unwrap(cidToFields(cid))
      return { ...at(h), data: [0n, ...sv!, ...who, c0, c1] }
    }
    const [entry] = registryEntries([
      ev(1, op!, CID),
      ev(2, op!, REVEAL_1),
      ev(3, stranger!, REVEAL_2),
      ev(4, op!, REVEAL_2),
      ev(5, op!, CID),
    ]).filter((e) => e.operator === fieldsToPublicKey(op![0], op![1]))
    expect(entry).toMatchObject({ descriptorCid: CID, height: 1, laterCids: [REVEAL_2, REVEAL_1] })
  })

  // Operators cannot take deposits: the registry is open to anyone, so the page keeps only the
  // entries the service's own runner key published.
  it("ignores a stranger's publish and retire: the runner's own entry stays listed", async () => {
    const runner = generateMinaKeyPair().publicKey
    const stranger = generateMinaKeyPair().publicKey
    const service = generateMinaKeyPair().publicKey
    const [sv, rn, st] = [service, runner, stranger].map((k) => unwrap(publicKeyToFields(k)))
    const [c0, c1] = unwrap(cidToFields(CID))
    const entries = registryEntries([
      { ...at(1), data: [0n, ...sv!, ...rn!, c0, c1] },
      // The stranger publishes the same service under its own name, then retires it.
      { ...at(2), data: [0n, ...sv!, ...st!, c0, c1] },
      { ...at(3), data: [1n, ...sv!, ...st!] },
      // And a second listing it keeps, to take over the operator label.
      { ...at(4), data: [0n, ...sv!, ...st!, c0, c1] },
    ])
    const runnerKeyHash = await nodePoseidon(rn!)
    const own = await ownListings(entries, async () => runnerKeyHash, nodePoseidon)
    expect(own).toEqual([expect.objectContaining({ service, operator: runner })])
  })
})

describe('chain reader transport', () => {
  const answer = () =>
    new Response(JSON.stringify({ data: { account: { zkappState: ['1', '2'] } } }), {
      headers: { 'content-type': 'application/json' },
    })

  it('asks once more when a connection drops before the node answers (reads are safe twice)', async () => {
    let calls = 0
    const reader = new GraphqlChainReader('http://node.test/graphql', 'http://archive.test', () => {
      calls += 1
      return calls === 1
        ? Promise.reject(new TypeError('other side closed'))
        : Promise.resolve(answer())
    })
    expect(await reader.zkappState('B62any')).toEqual([1n, 2n])
    expect(calls).toBe(2)
  })

  it('says the chain is unavailable when the node keeps not answering, after two tries', async () => {
    let calls = 0
    const reader = new GraphqlChainReader('http://node.test/graphql', 'http://archive.test', () => {
      calls += 1
      return Promise.reject(new TypeError('connection refused'))
    })
    await expect(reader.zkappState('B62any')).rejects.toMatchObject({ code: 'CHAIN_UNAVAILABLE' })
    expect(calls).toBe(2)
  })
})
