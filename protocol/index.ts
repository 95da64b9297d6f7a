// The one definition of every zkrunner message: schemas, types, canonical bytes, hashes, signatures.
// Runs unchanged in Node, the browser and a Cloudflare Worker (no o1js, no node: imports).

export {
  type CallPath,
  CallPathSchema,
  CallRefusal,
  type CallRefusalCode,
  callDepth,
  callPathBelow,
  checkCallPath,
  MAX_CALL_DEPTH,
} from './call-path.ts'
export {
  commitToField,
  decodeHeartbeat,
  decodeTerms,
  encodeHeartbeat,
  encodeTerms,
  fieldToCommit,
  holdsServiceState,
  LedgerState,
  LedgerVaultState,
  ledgerPaid,
  SERVICE_STATE_FIELDS,
  type ServiceHeartbeat,
  ServiceState,
  type ServiceTerms,
  SLOT_WINDOW,
  WITHDRAW_TIMELOCK_BOUNDS,
  withdrawTimelockInBounds,
} from './chain-layout.ts'
export {
  CHANNELS_MAP_HEIGHT,
  channelsRootOf,
  indexedMapRoot,
  ledgerChannelHash,
} from './channels-root.ts'
export {
  CONTENT_CODECS,
  cidToFields,
  fieldsToCid,
  parseCid,
  parseContentCid,
} from './cid-fields.ts'
export { hasControlCharacter } from './control-characters.ts'
export { bigintToBytes, bytesToBigint, digestToFields, fieldsToDigest, sha256 } from './digest.ts'
export {
  domainTag,
  HEARTBEAT_DOMAIN,
  MANIFEST_DOMAIN,
  REGISTRATION_DOMAIN,
  RESULT_LEAF_DOMAIN,
  RESULT_REPORT_DOMAIN,
  SETTLE_DOMAIN,
  STATUS_QUERY_DOMAIN,
  VOUCHER_DOMAIN,
} from './domains.ts'
export {
  canonicalBytes,
  canonicalJson,
  fromBase64url,
  fromHex,
  toBase64url,
  toHex,
} from './encoding.ts'
export {
  type Envelope,
  EnvelopeSchema,
  generateHpkeKeyPair,
  HPKE_SUITE,
  type HpkeKeyPair,
  type HpkeRecipientKey,
  hpkeKeyPairOf,
  JOB_REQUEST_INFO,
  keyId,
  openJson,
  parseEnvelope,
  sealJson,
  TRIGGER_TOKEN_INFO,
} from './envelope.ts'
export { fail, ok, ProtocolError, ProtocolErrorCode, type Result, unwrap } from './errors.ts'
export {
  ACCOUNT_CODE_SELECTION,
  type AccountCode,
  type AccountPermissions,
  AccountPermissionsSchema,
  type AuthRequired,
  checkGenuineLedger,
  checkGenuineService,
  FROZEN_LEDGER_PERMISSIONS,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  type GenuineCode,
  GenuineCodeSchema,
  type GenuineVerdict,
  isLedgerAddress,
  keyHash,
  type LedgerAccounts,
  ledgerAccountsQuery,
  ledgerAddressOf,
  parseLedgerAccounts,
  parseServiceAccount,
  readServiceAccountsWith,
  type ServiceAccounts,
  serviceAccountQuery,
  UnsafeServiceCode,
} from './genuine-service.ts'
export { variablesOfDispatchEvent } from './github-inputs.ts'
export {
  type JobRequest,
  JobRequestSchema,
  type JobSubmission,
  JobSubmissionSchema,
  newRequestId,
  parseJobRequest,
  parseJobSubmission,
} from './job-request.ts'
export {
  type JobVariables,
  JobVariablesSchema,
  parseArtifactPath,
  parseJobVariables,
  RanCommitSchema,
} from './job-variables.ts'
export {
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  type GraphqlQuery,
  type LedgerHead,
  LedgerReadError,
  LedgerReadErrorCode,
  type LedgerReading,
  type LedgerSources,
  ledgerActionStateQuery,
  ledgerActionsQuery,
  MAX_LEDGER_ACTIONS,
  nextActionState,
  parseLedgerActions,
  parseLedgerHead,
  readLedgerBook,
} from './ledger-actions.ts'
export {
  ActionKind,
  type ActionOutcome,
  applyAction,
  type BookAction,
  type BookChannel,
  decodeLedgerAction,
  EMPTY_BOOK_CHANNEL,
  LEDGER_ACTION_FIELDS,
  LedgerBook,
  SkipReason,
} from './ledger-book.ts'
export {
  checkLedgerSolvency,
  type LedgerSolvencyInputs,
  type SolvencyFigures,
  type SolvencyVerdict,
} from './ledger-solvency.ts'
export {
  ledgerSolvencyQuery,
  readLedgerSolvency,
  readLedgerSolvencyInputs,
} from './ledger-solvency-read.ts'
export {
  heartbeatMessage,
  manifestMessage,
  registrationMessage,
  resultLeafMessage,
  resultReportMessage,
  retirementMessage,
  settleMessage,
  voucherMessage,
} from './messages.ts'
export { FIELD_MODULUS, isPublicKey, publicKeyFromFields, publicKeyToFields } from './mina-key.ts'
export {
  depositRecoverable,
  NO_STOP_SLOTS,
  type StopSlots,
  stopSlotsOf,
  type UpgradeNotice,
  upgradeNotice,
} from './network-upgrade.ts'
export {
  checkOutputs,
  checkOutputValue,
  MAX_OUTPUT_STRING_BYTES,
  MAX_OUTPUTS,
  type ManifestOutput,
  ManifestOutputSchema,
  type ManifestOutputs,
  ManifestOutputsSchema,
  OUTPUT_TYPE_FIELDS,
  OUTPUT_TYPES,
  OUTPUTS_DIGEST_PREFIX,
  OutputNameSchema,
  type OutputSpec,
  OutputSpecSchema,
  OutputSpecsSchema,
  type OutputType,
  type OutputValue,
  outputFields,
  outputsDigest,
  outputsLayoutProblem,
  outputToFields,
  parseManifestOutputs,
  parseOutputSpecs,
  stringToFields,
  type WrittenOutput,
} from './outputs.ts'
export {
  isReservedParameterName,
  PARAMETER_TYPES,
  ParameterNameSchema,
  type ParameterSpec,
  ParameterSpecSchema,
  type ParameterType,
  type ParameterValues,
  ParameterValuesSchema,
  RESERVED_PARAMETER_PREFIXES,
  type ServiceInterface,
  ServiceInterfaceSchema,
  validateParameters,
} from './parameters.ts'
export { parseJsonWith, parseWith } from './parse.ts'
export {
  AGENT_LOST_SIGNAL,
  chargeOfJob,
  isPayable,
  type NotChargedReason,
  type Payability,
  payabilityOf,
  type RunEnd,
} from './payable.ts'
export {
  CidSchema,
  CommitShaSchema,
  ContentCidSchema,
  HpkePublicKeySchema,
  PublicKeySchema,
  RequestIdSchema,
  Sha256HexSchema,
  SignatureSchema,
  Uint64Schema,
  WellFormedStringSchema,
} from './primitives.ts'
export { type NextVoucher, nextVoucher, type OwedEvidence, type OwedSource } from './proven-owed.ts'
export { isLoopbackHttp, providerLink, providerUrlProblem, runLink } from './provider-link.ts'
export {
  parseRequestBinding,
  type RequestBinding,
  RequestBindingSchema,
  requestDigest,
} from './request-digest.ts'
export {
  type InnerJob,
  InnerJobSchema,
  MANIFEST_FILE,
  MANIFEST_SIGNATURE_FILE,
  MAX_INNER_JOBS,
  type ManifestFile,
  ManifestFileSchema,
  type ManifestSignature,
  ManifestSignatureSchema,
  manifestBytes,
  manifestDigest,
  NotRunReasonSchema,
  parseManifestBytes,
  parseManifestSignature,
  parseResultManifest,
  RanSchema,
  type ResultManifest,
  ResultManifestSchema,
  type RunMode,
  RunModeSchema,
  type SamplingSummary,
  SamplingSummarySchema,
  type SkippedArtifact,
  SkippedArtifactSchema,
  signManifest,
  type TruncatedLog,
  TruncatedLogSchema,
  verifyManifest,
} from './result-manifest.ts'
export {
  parseResultReport,
  type ResultReport,
  ResultReportSchema,
  signResultReport,
  verifyResultReport,
} from './result-report.ts'
export { unsafeRegexReason } from './safe-regex.ts'
export {
  type Availability,
  type AvailabilityFacts,
  DEFAULT_MAX_HEARTBEAT_AGE_SLOTS,
  type HealthReason,
  type ServiceDisabledReason,
  ServiceUnavailable,
  serviceAvailability,
} from './service-availability.ts'
export {
  isPrivateService,
  PRIVATE_COORDINATES,
  type PrivateServiceDescriptor,
  type PublicServiceDescriptor,
  parseServiceDescriptor,
  type ServiceDescriptor,
  ServiceDescriptorSchema,
  serviceDescriptorBytes,
  serviceDescriptorCid,
} from './service-descriptor.ts'
export {
  checkDriver,
  type DriverFacts,
  DriverRefusal,
  type DriverRefusalCode,
  type DriverVerdict,
  driverParameters,
  interfaceProblem,
  type ServiceParameterSpec,
} from './service-parameter.ts'
export {
  type PrivateCoordinates,
  PrivateCoordinatesSchema,
  parseServiceRegistration,
  resolveRunsOn,
  type SealedGithubCredentials,
  SealedGithubCredentialsSchema,
  type SealedGitlabCredentials,
  SealedGitlabCredentialsSchema,
  type ServiceRegistration,
  ServiceRegistrationSchema,
  sealedCoordinates,
  signServiceRegistration,
  verifyServiceRegistration,
} from './service-registration.ts'
export {
  parseServiceRetirement,
  type ServiceRetirement,
  ServiceRetirementSchema,
  signServiceRetirement,
  verifyServiceRetirement,
} from './service-retirement.ts'
export {
  MAX_SETTLED_LEAVES,
  parseSettledLeaves,
  type SettledLeaves,
  SettledLeavesSchema,
  settledLeavesBytes,
  settledLeavesCid,
} from './settled-leaves.ts'
export {
  generateMinaKeyPair,
  type MinaKeyPair,
  publicKeyOf,
  signFields,
  verifyFields,
} from './signature.ts'
export {
  fieldToPrivateCommitment,
  fieldToSourceCommitment,
  isPrivateCommitment,
  newSalt,
  openingStringToFields,
  openingToField,
  opensCommitment,
  PrivateCommitmentSchema,
  privateCommitment,
  SOURCE_COMMITMENT_PREFIX,
  SourceCommitmentSchema,
  type SourceOpening,
  SourceOpeningSchema,
  sameSourceCommitment,
  sourceCommitmentToField,
} from './source-commitment.ts'
export {
  checkSourceReveal,
  MAX_REVEAL_BYTES,
  parseSourceReveal,
  revealOpening,
  type SourceReveal,
  SourceRevealSchema,
  sourceRevealBytes,
} from './source-reveal.ts'
export {
  STATUS_QUERY_MAX_SECONDS,
  type StatusQuery,
  signStatusQuery,
  statusQueryExpiry,
  statusQueryMessage,
  statusQueryString,
  verifyStatusQuery,
} from './status-query.ts'
export { receiptTokenIdOf, tokenIdToBase58 } from './token-id.ts'
export {
  parseVoucher,
  signVoucher,
  type UnsignedVoucher,
  type Voucher,
  VoucherSchema,
  verifyVoucher,
} from './voucher.ts'
