import { ZKAPP_COMMAND_INPUT_SDL, zkappCommandOutputSdl } from './zkapp-command-sdl.ts'

// The subset of the Mina daemon's GraphQL schema that o1js's `Mina.Network` and common wallets
// use, with the daemon's type and field names. Root types are named `query` and `mutation`,
// as in the daemon's introspection.

const SCALARS = [
  // inputs, validated in scalars.ts
  'PublicKey',
  'TokenId',
  'Field',
  'UInt32',
  'UInt64',
  'Fee',
  'CurrencyAmount',
  'Balance',
  'GlobalSlotSinceGenesis',
  'GlobalSlotSpan',
  'Sign',
  'AuthRequired',
  'Memo',
  'Signature',
  'ZkappProof',
  'VerificationKey',
  // outputs only, serialized as the strings the daemon prints
  'Amount',
  'AccountNonce',
  'ChainHash',
  'FieldElem',
  'Action',
  'VerificationKeyHash',
  'StateHash',
  'Length',
  'Slot',
  'Epoch',
  'Globalslot',
  'TransactionHash',
  'TransactionId',
  'TransactionStatusFailure',
  'Index',
  // the daemon's JSON scalar: runtimeConfig
  'JSON',
]

const DAEMON_SDL = /* GraphQL */ `
schema {
  query: query
  mutation: mutation
}

${SCALARS.map((s) => `scalar ${s}`).join('\n')}

type query {
  "Account of a public key, for the default token unless token is given"
  account(publicKey: PublicKey!, token: TokenId): Account
  "All accounts of a public key, one per token"
  accounts(publicKey: PublicKey!): [Account!]!
  "Blocks from the root of the frontier to the best tip, oldest first"
  bestChain(maxLength: Int): [Block!]
  "One block by state hash or height"
  block(stateHash: String, height: Int): Block!
  genesisConstants: GenesisConstants!
  daemonStatus: DaemonStatus!
  "The runtime configuration passed to the daemon at start-up (a hard fork's stop slots under daemon)"
  runtimeConfig: JSON!
  syncStatus: SyncStatus!
  networkID: String!
  version: String
  "Status of a sent zkApp command, by the id or hash sendZkapp returned"
  transactionStatus(payment: ID, zkappTransaction: ID): TransactionStatus!
  "zkApp commands waiting in the pool; this node includes every command at once, so none"
  pooledZkappCommands(publicKey: PublicKey, hashes: [String!], ids: [ID!]): [ZkappCommandResult!]!
}

type mutation {
  sendZkapp(input: SendZkappInput!): SendZkappPayload!
}

enum SyncStatus {
  CONNECTING
  LISTENING
  OFFLINE
  BOOTSTRAP
  SYNCED
  CATCHUP
}

enum TransactionStatus {
  INCLUDED
  PENDING
  UNKNOWN
}

enum AccountAuthRequired {
  None
  Either
  Proof
  Signature
  Impossible
}

type Account {
  publicKey: PublicKey!
  tokenId: TokenId!
  token: TokenId!
  nonce: AccountNonce
  inferredNonce: AccountNonce
  balance: AnnotatedBalance!
  tokenSymbol: String
  receiptChainHash: ChainHash
  timing: AccountTiming!
  permissions: AccountPermissions
  delegate: PublicKey
  delegateAccount: Account
  votingFor: ChainHash
  zkappState: [FieldElem!]
  verificationKey: AccountVerificationKeyWithHash
  actionState: [Action!]
  provedState: Boolean
  zkappUri: String
  locked: Boolean
}

type AnnotatedBalance {
  total: Balance!
  unknown: Balance!
  liquid: Balance
  locked: Balance
  blockHeight: Length!
  stateHash: StateHash
}

type AccountTiming {
  initialMinimumBalance: Balance
  cliffTime: Globalslot
  cliffAmount: Amount
  vestingPeriod: GlobalSlotSpan
  vestingIncrement: Amount
}

type AccountPermissions {
  editState: AccountAuthRequired!
  access: AccountAuthRequired!
  send: AccountAuthRequired!
  receive: AccountAuthRequired!
  setDelegate: AccountAuthRequired!
  setPermissions: AccountAuthRequired!
  setVerificationKey: VerificationKeyPermission!
  setZkappUri: AccountAuthRequired!
  editActionState: AccountAuthRequired!
  setTokenSymbol: AccountAuthRequired!
  incrementNonce: AccountAuthRequired!
  setVotingFor: AccountAuthRequired!
  setTiming: AccountAuthRequired!
}

type VerificationKeyPermission {
  auth: AccountAuthRequired!
  txnVersion: String!
}

type AccountVerificationKeyWithHash {
  verificationKey: VerificationKey!
  hash: VerificationKeyHash!
}

type Block {
  stateHash: StateHash!
  stateHashField: String!
  creator: PublicKey!
  protocolState: ProtocolState!
  transactions: Transactions!
  commandTransactionCount: Int!
}

type ProtocolState {
  previousStateHash: StateHash!
  blockchainState: BlockchainState!
  consensusState: ConsensusState!
}

type BlockchainState {
  date: String!
  utcDate: String!
  snarkedLedgerHash: String!
  stagedLedgerHash: String!
  stagedLedgerProofEmitted: Boolean
}

type ConsensusState {
  blockHeight: Length!
  blockchainLength: Length!
  epochCount: Length!
  minWindowDensity: Length!
  lastVrfOutput: String!
  totalCurrency: Amount!
  hasAncestorInSameCheckpointWindow: Boolean!
  slot: Slot!
  slotSinceGenesis: Globalslot!
  epoch: Epoch!
  nextEpochData: NextEpochData!
  stakingEpochData: StakingEpochData!
}

type NextEpochData {
  ledger: EpochLedger!
  seed: String!
  startCheckpoint: String!
  lockCheckpoint: String!
  epochLength: Length!
}

type StakingEpochData {
  ledger: EpochLedger!
  seed: String!
  startCheckpoint: String!
  lockCheckpoint: String!
  epochLength: Length!
}

type EpochLedger {
  hash: String!
  totalCurrency: Amount!
}

type Transactions {
  zkappCommands: [ZkappCommandResult!]!
  coinbase: Amount!
}

type ZkappCommandResult {
  id: TransactionId!
  hash: TransactionHash!
  zkappCommand: ZkappCommand!
  failureReason: [ZkappCommandFailureReason]
}

type ZkappCommandFailureReason {
  index: Index
  failures: [TransactionStatusFailure!]!
}

type SendZkappPayload {
  zkapp: ZkappCommandResult!
}

type GenesisConstants {
  accountCreationFee: Fee!
  coinbase: Amount!
  genesisTimestamp: String!
}

type DaemonStatus {
  chainId: String!
  blockchainLength: Int
  highestBlockLengthReceived: Int!
  highestUnvalidatedBlockLengthReceived: Int!
  syncStatus: SyncStatus!
  consensusConfiguration: ConsensusConfiguration!
  consensusMechanism: String!
  commitId: String!
  uptimeSecs: Int!
  numAccounts: Int
  stateHash: String
}

type ConsensusConfiguration {
  delta: Int!
  k: Int!
  slotsPerEpoch: Int!
  slotDuration: Int!
  epochDuration: Int!
  genesisStateTimestamp: String!
  acceptableNetworkDelay: Int!
}

${ZKAPP_COMMAND_INPUT_SDL}

${zkappCommandOutputSdl()}
`

/** SDL of the daemon schema served at `/graphql`. */
export function daemonSdl(): string {
  return DAEMON_SDL
}
