import {
  type GraphQLInputObjectType,
  type GraphQLInputType,
  getNamedType,
  isInputObjectType,
  isListType,
  isNonNullType,
  parse,
  validate,
} from 'graphql'
import { AccountUpdate, Mina, PrivateKey, TokenId, Types } from 'o1js'
import { describe, expect, it } from 'vitest'
import { archiveSdl } from '../graphql/archive-schema.ts'
import { daemonSdl } from '../graphql/daemon-schema.ts'
import { buildCheckedSchema } from '../graphql/executor.ts'
import { o1jsGraphql } from './o1js-internals.ts'

const daemon = buildCheckedSchema(daemonSdl())
const archive = buildCheckedSchema(archiveSdl())
const pk = PrivateKey.fromBigInt(1n).toPublicKey().toBase58()
const token = TokenId.toBase58(TokenId.default)

function errorsOf(schema: typeof daemon, query: string): string[] {
  return validate(schema, parse(query)).map((e) => e.message)
}

// Every key of an o1js JSON value must be a field of the input type, and vice versa.
function coverage(type: GraphQLInputObjectType, json: unknown, path: string, out: string[]) {
  const fields = type.getFields()
  const value = json as Record<string, unknown>
  for (const key of Object.keys(value))
    if (!(key in fields)) out.push(`${path}.${key} is missing from ${type.name}`)
  for (const [name, field] of Object.entries(fields)) {
    if (!(name in value)) {
      out.push(`${type.name}.${name} is not in o1js's JSON at ${path}`)
      continue
    }
    let t: GraphQLInputType = field.type
    let v = value[name]
    if (isNonNullType(t)) t = t.ofType
    if (isListType(t) && Array.isArray(v) && v.length > 0 && !Array.isArray(v[0])) {
      t = isNonNullType(t.ofType) ? t.ofType.ofType : t.ofType
      v = v[0]
    }
    const named = getNamedType(t)
    if (isInputObjectType(named) && v !== null && typeof v === 'object' && !Array.isArray(v))
      coverage(named, v, `${path}.${name}`, out)
  }
}

describe('daemon schema', () => {
  it('accepts every document o1js sends to a Mina node', async () => {
    const q = await o1jsGraphql()
    expect(errorsOf(daemon, q.accountQuery(pk, token))).toEqual([])
    expect(errorsOf(daemon, q.currentSlotQuery)).toEqual([])
    expect(errorsOf(daemon, q.genesisConstantsQuery)).toEqual([])
    expect(errorsOf(daemon, q.lastBlockQuery)).toEqual([])
    expect(errorsOf(daemon, q.lastBlockQueryFailureCheck(20))).toEqual([])
    expect(errorsOf(daemon, q.transactionStatusQuery('5Jabc'))).toEqual([])
  })

  it('accepts a sendZkapp literal of a real zkApp command, fully populated', async () => {
    const q = await o1jsGraphql()
    const local = await Mina.LocalBlockchain({ proofsEnabled: false })
    Mina.setActiveInstance(local)
    const [a, b] = local.testAccounts
    const tx = await Mina.transaction({ sender: a!, fee: 1e8, memo: 'hello' }, async () => {
      AccountUpdate.createSigned(a!).send({ to: b!, amount: 5 })
    })
    tx.sign([a!.key])
    expect(errorsOf(daemon, q.sendZkappQuery(tx.toJSON()))).toEqual([])
  })

  it("covers every field of o1js's zkApp command JSON layout", () => {
    const update = Types.AccountUpdate.toJSON(Types.AccountUpdate.empty())
    // Fill the options so that nested input types are compared too.
    const full = structuredClone(update)
    const body = full.body
    body.update.verificationKey = { data: '', hash: '0' }
    body.update.permissions = {
      editState: 'None',
      access: 'None',
      send: 'None',
      receive: 'None',
      setDelegate: 'None',
      setPermissions: 'None',
      setVerificationKey: { auth: 'None', txnVersion: '0' },
      setZkappUri: 'None',
      editActionState: 'None',
      setTokenSymbol: 'None',
      incrementNonce: 'None',
      setVotingFor: 'None',
      setTiming: 'None',
    }
    body.update.timing = {
      initialMinimumBalance: '0',
      cliffTime: '0',
      cliffAmount: '0',
      vestingPeriod: '1',
      vestingIncrement: '0',
    }
    const interval = { lower: '0', upper: '0' }
    body.preconditions.network.blockchainLength = interval
    body.preconditions.network.minWindowDensity = interval
    body.preconditions.network.totalCurrency = interval
    body.preconditions.network.globalSlotSinceGenesis = interval
    body.preconditions.network.stakingEpochData.ledger.totalCurrency = interval
    body.preconditions.network.stakingEpochData.epochLength = interval
    body.preconditions.network.nextEpochData.ledger.totalCurrency = interval
    body.preconditions.network.nextEpochData.epochLength = interval
    body.preconditions.account.balance = interval
    body.preconditions.account.nonce = interval
    body.preconditions.validWhile = interval
    const command = {
      feePayer: {
        body: { publicKey: pk, fee: '0', validUntil: null, nonce: '0' },
        authorization: '',
      },
      accountUpdates: [full],
      memo: '',
    }
    const problems: string[] = []
    coverage(
      daemon.getType('ZkappCommandInput') as GraphQLInputObjectType,
      command,
      'zkappCommand',
      problems,
    )
    expect(problems).toEqual([])
  })
})

describe('archive schema', () => {
  it('accepts the events and actions documents o1js sends to an archive', async () => {
    const q = await o1jsGraphql()
    expect(errorsOf(archive, q.getEventsQuery({ publicKey: pk, from: 1, to: 5 }))).toEqual([])
    expect(
      errorsOf(
        archive,
        q.getActionsQuery({
          publicKey: pk,
          actionStates: { fromActionState: '1', endActionState: '2' },
          from: 1,
          to: 9,
        }),
      ),
    ).toEqual([])
  })
})
