import { GraphQLError, type GraphQLScalarType, type GraphQLSchema, Kind } from 'graphql'
import { Field as O1Field, PublicKey, TokenId } from 'o1js'

// Input validation of the custom scalars. A value that fails here is answered with a GraphQL
// error naming the type, before any resolver runs. Every scalar is a string on the wire, as in
// the daemon and in o1js's JSON.

type Check = (value: string) => string | undefined

const decimal =
  (bits: number): Check =>
  (v) => {
    if (!/^\d{1,20}$/.test(v)) return 'expected an unsigned decimal integer string'
    return BigInt(v) < 2n ** BigInt(bits) ? undefined : `does not fit in ${bits} bits`
  }

const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v) ? undefined : `expected one of ${values.join(', ')}`

const charset =
  (pattern: RegExp, maxLength: number, what: string): Check =>
  (v) => {
    if (v.length > maxLength) return `longer than ${maxLength} characters`
    return pattern.test(v) ? undefined : `expected ${what}`
  }

const BASE58 = /^[1-9A-HJ-NP-Za-km-z]*$/
const BASE64 = /^[A-Za-z0-9+/=_-]*$/

const CHECKS: Record<string, Check> = {
  PublicKey: (v) => {
    if (!BASE58.test(v) || v.length > 60) return 'expected a base58 public key'
    try {
      PublicKey.fromBase58(v)
      return undefined
    } catch {
      return 'not a valid public key'
    }
  },
  TokenId: (v) => {
    if (!BASE58.test(v) || v.length > 60) return 'expected a base58 token id'
    try {
      TokenId.fromBase58(v)
      return undefined
    } catch {
      return 'not a valid token id'
    }
  },
  Field: (v) => {
    if (!/^\d{1,78}$/.test(v)) return 'expected a decimal field element string'
    return BigInt(v) < O1Field.ORDER ? undefined : 'not below the field modulus'
  },
  UInt32: decimal(32),
  GlobalSlotSinceGenesis: decimal(32),
  GlobalSlotSpan: decimal(32),
  UInt64: decimal(64),
  Fee: decimal(64),
  CurrencyAmount: decimal(64),
  Balance: decimal(64),
  Sign: oneOf('Positive', 'Negative'),
  AuthRequired: oneOf('None', 'Either', 'Proof', 'Signature', 'Impossible'),
  Memo: charset(BASE58, 100, 'a base58 memo'),
  Signature: charset(BASE58, 200, 'a base58 signature'),
  ZkappProof: charset(BASE64, 512 * 1024, 'a base64 proof'),
  VerificationKey: charset(BASE64, 512 * 1024, 'a base64 verification key'),
}

function coerce(name: string, check: Check, value: unknown): string {
  if (typeof value !== 'string') throw new GraphQLError(`${name} must be given as a string`)
  const problem = check(value)
  if (problem !== undefined) throw new GraphQLError(`invalid ${name}: ${problem}`)
  return value
}

/** Installs input validation on the schema's custom scalars that have a check. */
export function installScalarChecks(schema: GraphQLSchema): void {
  for (const [name, check] of Object.entries(CHECKS)) {
    const type = schema.getType(name) as GraphQLScalarType | undefined
    if (type === undefined) continue
    const fromValue = (value: unknown) => coerce(name, check, value)
    const fromLiteral = (node: { kind: string; value?: unknown }) => {
      if (node.kind !== Kind.STRING) throw new GraphQLError(`${name} must be given as a string`)
      return fromValue(node.value)
    }
    type.coerceInputValue = fromValue
    type.parseValue = fromValue
    type.coerceInputLiteral = fromLiteral as GraphQLScalarType['coerceInputLiteral']
    type.parseLiteral = fromLiteral as GraphQLScalarType['parseLiteral']
  }
}
