/**
 * The single DynamoDB table: keys, indexes and TTL attribute.
 * Read by stacks/Storage.ts (to deploy it) and by local/dynamodb.ts (to create it in DynamoDB Local),
 * so the deployed table and the local one cannot drift apart.
 *
 * Indexes are named after the access pattern they serve (ElectroDB style).
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; only for records that may lawfully vanish (rate-limit windows, expired non-money idempotency records). Never set on ledger entries. */
  ttlAttribute: 'ttl',
  indexes: {
    /**
     * A lender's facilities, newest first: gsi1pk = LENDER#<id>, gsi1sk = FACILITY#<created_at>#<id>. Also a provider's
     * capacity bookings: gsi1pk = PROVIDERBOOKINGS#<id>, gsi1sk = BOOKING#<created_at>#<id>.
     */
    byLender: { partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    /** A startup's facilities, keys and bookings: gsi2pk = STARTUP#<id>, gsi2sk = FACILITY#<term_end>#<id> | KEY#<created_at>#<id> | BOOKING#<created_at>#<id>. */
    byStartup: { partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    /**
     * Open holds by expiry, for the sweeper; sharded to spread writes: gsi3pk = OPENHOLD#<0..15>, gsi3sk = <expires_at iso>#<hold id>.
     * Sparse: removed when the hold closes. Also bookings the sweep must look at: gsi3pk = BOOKINGDUE#<0..3>, gsi3sk = <due iso>#<booking id>.
     */
    openHoldsByExpiry: { partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
    /** Every account, for the ledger audit: gsi4pk = ACCOUNTS#<0..15>, gsi4sk = <account id>. */
    accountsForAudit: { partitionKey: 'gsi4pk', sortKey: 'gsi4sk' },
    /**
     * A provider's billed requests of one UTC month, for settlement: gsi5pk = PUSAGE#<provider>#<YYYY-MM>#<0..15>
     * (the accrual shard of the request's hold, or of its lease, so the shard's records add up to that accrual
     * account's balance), gsi5sk = <created_at>#<request id> for a held request's record, or
     * <lease created_at>#<lease id>#<page> for a closed lease's record page (up to 1,024 records in one item).
     * Sparse: only billed request records and record pages.
     */
    usageByProviderMonth: { partitionKey: 'gsi5pk', sortKey: 'gsi5sk' },
  },
} as const;

export type IndexName = keyof typeof TABLE.indexes;
export const OPEN_HOLD_SHARDS = 16;
export const ACCOUNT_SHARDS = 16;
