// The contracts part: o1js zkApps of zkrunner and the one client that builds their transactions.
export { CHANNEL_MAP_HEIGHT, Channel, ChannelMap, channelKey } from './channel.ts'
export {
  ActionKind,
  BatchEvent,
  ChannelLedger,
  ClaimEvent,
  compileLedger,
  frozenLedgerPermissions,
  LEDGER_BATCH_SIZE,
  LedgerAction,
  LedgerChannel,
  SkipReason,
  skipReasonAt,
} from './channel-ledger.ts'
export {
  accountExists,
  type ClaimArgs,
  claim,
  claimBody,
  type DeployCreditTokenArgs,
  deployCreditToken,
  deployRegistry,
  deployService,
  deposit,
  evenLedgerKey,
  type FeePayer,
  heartbeat,
  isRetiredInRegistry,
  ledgerOf,
  listedServices,
  mintCredits,
  nextBatchBody,
  payoutTokenId,
  processBatches,
  proveCall,
  proveDeposit,
  publishService,
  readCredits,
  readEscrow,
  readFundable,
  readRedeemable,
  readServiceState,
  readUserChannel,
  redeem,
  refund,
  refundBody,
  requestWithdraw,
  requestWithdrawBody,
  retireService,
  type SettledResults,
  type SignedVoucher,
  settledResults,
  withdraw,
  withdrawBody,
} from './client.ts'
export {
  type CompileTimes,
  compileAll,
  compileFor,
  currentTxnVersion,
  DEFAULT_CACHE_DIR,
  ensureCompiledAll,
  genuineCode,
} from './compile.ts'
export { CreditAdmin, type CreditAdminDeployProps } from './credit-admin.ts'
export {
  CreditToken,
  creditTokenAddress,
  creditTokenId,
  setCreditTokenAddress,
} from './credit-token.ts'
export { CreditAdminErrors, RegistryErrors, ServiceErrors } from './errors.ts'
export {
  type BookAction,
  type BookChannel,
  bookMap,
  LedgerBook,
  type LedgerBooks,
  readLedgerBooks,
  toLedgerChannel,
} from './ledger-book.ts'
export { frozenVaultPermissions, LedgerVault } from './ledger-vault.ts'
export {
  type MinaEndpoint,
  type MinaNetworkId,
  minaNetwork,
  selectNetwork,
} from './network.ts'
export { Heartbeat, Terms } from './packing.ts'
export {
  RESULTS_TREE_HEIGHT,
  RESULTS_TREE_LEAVES,
  type ResultsCountProof,
  type ResultsOwner,
  ResultWitness,
  resultLeaf,
  resultsCountProof,
  resultsRoot,
  resultsTree,
  resultWitness,
  verifyResult,
} from './results-tree.ts'
export { sendHeartbeat } from './runner-heartbeat.ts'
export { dummyGenuineCode, readServiceAccounts } from './service-accounts.ts'
export {
  frozenServicePermissions,
  ServiceContract,
  type ServiceDeployProps,
  SettleClaim,
  SLOT_WINDOW,
  VoucherFields,
} from './service-contract.ts'
export { HeartbeatEvent } from './service-events.ts'
export { ServicePublishedEvent, ServiceRegistry, ServiceRetiredEvent } from './service-registry.ts'
export {
  type ServiceVersionTerms,
  serviceDeployProps,
  workerKeyHash,
} from './service-version.ts'
export {
  decodeHeartbeat,
  decodeServiceState,
  decodeTerms,
  encodeTerms,
  SERVICE_STATE_INDEX,
  type ServiceHeartbeat,
  type ServiceState,
  type ServiceTerms,
  sourceCommitmentToSha1,
} from './state-decode.ts'
