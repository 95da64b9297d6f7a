/**
 * Assertion messages of the service, its ledger and vault; tests and clients match on them. The
 * channel rules processBatch applies are not assertions: a claim or withdrawal breaking one is
 * skipped with a SkipReason (protocol/ledger-book.ts), never refused.
 */
export const ServiceErrors = {
  notRunner: 'Runner key does not match the service',
  badRunnerSignature: 'Runner signature does not verify',
  badVoucherSignature: 'Voucher signature does not verify',
  resultsNotProved: 'Results root does not hold the number of results claimed',
  timelockOutOfBounds: 'Withdrawal timelock is outside its bounds',
  priceOutOfBounds: 'Price per job is above its bound',
  channelMismatch: 'Channel does not match the channels root',
  zeroDeposit: 'Deposit amount must be positive',
  staleHeartbeat: 'Heartbeat slot is not recent',
  heartbeatNotNewer: 'Heartbeat slot is not newer than the last one',
  badHeartbeatSignature: 'Heartbeat signature does not verify',
  receiptsNotTransferable: 'Deposit receipts cannot be transferred',
  runnerHasNoChannel: 'The runner cannot be a user of its own ledger',
  nothingToRefund: 'No refund above what was pulled before',
  redeemAbovePaid: 'Redeem would pay the runner more than the ledger paid it',
  zeroRedeem: 'Redeem amount must be positive',
  notThisService: 'The ledger settles for another service',
  ledgerKeyOdd: 'The ledger key must have an even y (the service keeps its x only)',
} as const

/** Assertion messages of the service registry. */
export const RegistryErrors = {
  emptyCid: 'Descriptor CID must not be empty',
} as const

/** Assertion messages of the credit token's admin contract. */
export const CreditAdminErrors = {
  noAdminKey: 'could not fetch credit admin key',
  frozen: 'Credit token admin and verification key are frozen',
} as const
