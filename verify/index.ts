// The verifier's core: no o1js, no Helia, no Node or browser API beyond fetch and Web Crypto-free
// hashing from protocol. What it reads comes through narrow interfaces (BundleReader, the chain
// reader's two methods, Poseidon, settled leaves), so the page, the stack, the CLI and the agent
// each inject their own. Assemblies that pull heavier code are separate entry points:
// `gateway-reader.ts` (Helia verified retrieval), `results-root.ts` (o1js, the contract's tree),
// `from-endpoints.ts` (both, for Node callers).

export {
  ARCHIVE_BLOCK_RANGE,
  type ChainEvent,
  type ChainReader,
  chainOrder,
  decodeServiceState,
  GraphqlChainReader,
  graphqlQuery,
  ownListings,
  type RegistryEntry,
  type RegistryListing,
  registryEntries,
  registryListings,
  type ServiceOnChain,
  sameCommit,
} from './chain-reader.ts'
export { VerifyError, VerifyErrorCode } from './errors.ts'
export {
  type InnerBudget,
  type InnerVerification,
  innerJobsStatus,
  MAX_INNER_VERIFICATIONS,
} from './inner-jobs.ts'
export {
  CONTENT_LINKS,
  contentVerified,
  firstBroken,
  LINKS,
  type LinkId,
  type LinkStatus,
  link,
  type VerificationLink,
} from './links.ts'
export { fieldsToPublicKey } from './mina-address.ts'
export { type OutputsSummary, outputsSummary } from './outputs.ts'
export { ranText, ranVouched } from './ran.ts'
export { type RevealState, revealsInRegistry, serviceReveal } from './reveals.ts'
export { settledResultsFrom } from './settled-leaves.ts'
export { readSettlement, type Settlement, settlementFor, settlementOf } from './settlement.ts'
export { truncatedLogsText } from './truncated-logs.ts'
export {
  type BundleReader,
  type SettledResults,
  type VerifyDeps,
  type VerifyOutcome,
  type VerifyTarget,
  verifyResult,
} from './verify-result.ts'
