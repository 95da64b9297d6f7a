/** CI variable (GitHub: dispatch input) carrying the job id: what reconciliation and webhooks key on. */
export const JOB_ID_VARIABLE = 'ZKRUNNER_JOB_ID'
/** CI variable carrying the service address: routes GitLab pipeline webhooks to their Durable Object. */
export const SERVICE_VARIABLE = 'ZKRUNNER_SERVICE'
