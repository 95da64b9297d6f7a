// The zkApp command input types of the Mina daemon's GraphQL schema, with Mina's type names
// (`ZkappCommandInput`, `AccountUpdateBodyInput`, ...) so that clients that declare variables
// of these types work unchanged. Field names follow o1js's JSON layout of a zkApp command,
// which is what `sendZkapp` literals are made of. A test checks that every key of o1js's
// JSON layout is covered, so a newer o1js that adds a field fails loudly here.
//
// One deliberate difference from the daemon: `votingFor` takes a field element, the value
// o1js writes in its JSON, rather than a base58 state hash.

/** SDL of the zkApp command input types. */
export const ZKAPP_COMMAND_INPUT_SDL = /* GraphQL */ `
input SendZkappInput {
  zkappCommand: ZkappCommandInput!
}

input ZkappCommandInput {
  feePayer: ZkappFeePayerInput!
  accountUpdates: [ZkappAccountUpdateInput!]!
  memo: Memo!
}

input ZkappFeePayerInput {
  body: FeePayerBodyInput!
  authorization: Signature!
}

input FeePayerBodyInput {
  publicKey: PublicKey!
  fee: Fee!
  validUntil: GlobalSlotSinceGenesis
  nonce: UInt32!
}

input ZkappAccountUpdateInput {
  body: AccountUpdateBodyInput!
  authorization: ControlInput!
}

input ControlInput {
  proof: ZkappProof
  signature: Signature
}

input AccountUpdateBodyInput {
  publicKey: PublicKey!
  tokenId: TokenId!
  update: AccountUpdateModificationInput!
  balanceChange: BalanceChangeInput!
  incrementNonce: Boolean!
  events: [[Field!]!]!
  actions: [[Field!]!]!
  callData: Field!
  callDepth: Int!
  preconditions: PreconditionsInput!
  useFullCommitment: Boolean!
  implicitAccountCreationFee: Boolean!
  mayUseToken: MayUseTokenInput!
  authorizationKind: AuthorizationKindStructuredInput!
}

input AccountUpdateModificationInput {
  appState: [Field]!
  delegate: PublicKey
  verificationKey: VerificationKeyWithHashInput
  permissions: PermissionsInput
  zkappUri: String
  tokenSymbol: String
  timing: TimingInput
  votingFor: Field
}

input VerificationKeyWithHashInput {
  data: VerificationKey!
  hash: Field!
}

input PermissionsInput {
  editState: AuthRequired!
  access: AuthRequired!
  send: AuthRequired!
  receive: AuthRequired!
  setDelegate: AuthRequired!
  setPermissions: AuthRequired!
  setVerificationKey: VerificationKeyPermissionInput!
  setZkappUri: AuthRequired!
  editActionState: AuthRequired!
  setTokenSymbol: AuthRequired!
  incrementNonce: AuthRequired!
  setVotingFor: AuthRequired!
  setTiming: AuthRequired!
}

input VerificationKeyPermissionInput {
  auth: AuthRequired!
  txnVersion: UInt32!
}

input TimingInput {
  initialMinimumBalance: Balance!
  cliffTime: GlobalSlotSinceGenesis!
  cliffAmount: CurrencyAmount!
  vestingPeriod: GlobalSlotSpan!
  vestingIncrement: CurrencyAmount!
}

input BalanceChangeInput {
  magnitude: CurrencyAmount!
  sgn: Sign!
}

input PreconditionsInput {
  network: NetworkPreconditionInput!
  account: AccountPreconditionInput!
  validWhile: GlobalSlotSinceGenesisIntervalInput
}

input NetworkPreconditionInput {
  snarkedLedgerHash: Field
  blockchainLength: LengthIntervalInput
  minWindowDensity: LengthIntervalInput
  totalCurrency: CurrencyAmountIntervalInput
  globalSlotSinceGenesis: GlobalSlotSinceGenesisIntervalInput
  stakingEpochData: EpochDataPreconditionInput!
  nextEpochData: EpochDataPreconditionInput!
}

input EpochDataPreconditionInput {
  ledger: EpochLedgerPreconditionInput!
  seed: Field
  startCheckpoint: Field
  lockCheckpoint: Field
  epochLength: LengthIntervalInput
}

input EpochLedgerPreconditionInput {
  hash: Field
  totalCurrency: CurrencyAmountIntervalInput
}

input AccountPreconditionInput {
  balance: BalanceIntervalInput
  nonce: NonceIntervalInput
  receiptChainHash: Field
  delegate: PublicKey
  state: [Field]!
  actionState: Field
  provedState: Boolean
  isNew: Boolean
}

input BalanceIntervalInput {
  lower: Balance!
  upper: Balance!
}

input NonceIntervalInput {
  lower: UInt32!
  upper: UInt32!
}

input LengthIntervalInput {
  lower: UInt32!
  upper: UInt32!
}

input CurrencyAmountIntervalInput {
  lower: CurrencyAmount!
  upper: CurrencyAmount!
}

input GlobalSlotSinceGenesisIntervalInput {
  lower: GlobalSlotSinceGenesis!
  upper: GlobalSlotSinceGenesis!
}

input MayUseTokenInput {
  parentsOwnToken: Boolean!
  inheritFromParent: Boolean!
}

input AuthorizationKindStructuredInput {
  isSigned: Boolean!
  isProved: Boolean!
  verificationKeyHash: Field!
}
`

// Input types whose output twin is declared by hand in the daemon schema.
const HAND_WRITTEN_OUTPUTS = new Set(['SendZkappInput', 'VerificationKeyPermissionInput'])

/**
 * Derives the output twins of the input types (`AccountUpdateBodyInput` -> `AccountUpdateBody`),
 * as the daemon has them, so a sent command can be read back in the same shape.
 */
export function zkappCommandOutputSdl(): string {
  const blocks = ZKAPP_COMMAND_INPUT_SDL.split(/\n(?=input )/)
  return blocks
    .filter((block) => {
      const name = /^input (\w+)/.exec(block.trim())?.[1]
      return name !== undefined && !HAND_WRITTEN_OUTPUTS.has(name)
    })
    .map((block) =>
      block
        .trim()
        .replace(/^input (\w+)Input/, 'type $1')
        .replace(/\b(\w+)Input\b/g, '$1'),
    )
    .join('\n\n')
}
