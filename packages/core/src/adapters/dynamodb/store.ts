/**
 * CreditStore on one DynamoDB table, composed of one part per port (../../store.ts): tenants, facilities,
 * ledger, holds, audit, and the idempotency they share. Every money-moving method is a single
 * TransactWriteItems: the posting, its lines, the cached balances (with their conditions) and the record
 * it belongs to (hold, facility, idempotency reply) commit together or not at all.
 *
 * The wiring builds this once; domain classes see only the ports they take. Each method here only
 * forwards, so a part can also be handed out alone (settlement takes `ledger`).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CreditStore } from '../../store.js';
import { DynamoAuditStore } from './audit-store.js';
import { DynamoFacilityStore } from './facility-store.js';
import { DynamoHoldStore } from './hold-store.js';
import { DynamoIdempotency } from './idempotency.js';
import { DynamoLedgerStore } from './ledger-store.js';
import { DynamoLeaseStore } from './lease-store.js';
import { Table } from './table.js';
import { DynamoTenantStore } from './tenant-store.js';

type Port<K extends keyof CreditStore> = CreditStore[K];

export class DynamoCreditStore implements CreditStore {
  readonly idempotency: DynamoIdempotency;
  readonly tenants: DynamoTenantStore;
  readonly facilities: DynamoFacilityStore;
  readonly ledger: DynamoLedgerStore;
  readonly holds: DynamoHoldStore;
  readonly leases: DynamoLeaseStore;
  readonly audit: DynamoAuditStore;

  constructor(doc: DynamoDBDocumentClient, tableName: string) {
    const table = new Table(doc, tableName);
    this.idempotency = new DynamoIdempotency(table);
    this.tenants = new DynamoTenantStore(table, this.idempotency);
    this.facilities = new DynamoFacilityStore(table, this.idempotency);
    this.ledger = new DynamoLedgerStore(table);
    this.holds = new DynamoHoldStore(table);
    this.leases = new DynamoLeaseStore(table);
    this.audit = new DynamoAuditStore(table, this.ledger);
  }

  findReplay: Port<'findReplay'> = (claim) => this.idempotency.findReplay(claim);
  claim: Port<'claim'> = (c) => this.idempotency.claim(c);

  createStartup: Port<'createStartup'> = (s, idem) => this.tenants.createStartup(s, idem);
  getStartup: Port<'getStartup'> = (id) => this.tenants.getStartup(id);
  createLender: Port<'createLender'> = (l, key, idem) => this.tenants.createLender(l, key, idem);
  getLender: Port<'getLender'> = (id) => this.tenants.getLender(id);
  createApiKey: Port<'createApiKey'> = (k, idem) => this.tenants.createApiKey(k, idem);
  findApiKeyByHash: Port<'findApiKeyByHash'> = (sha) => this.tenants.findApiKeyByHash(sha);
  listStartupKeys: Port<'listStartupKeys'> = (startupId, limit, cursor) => this.tenants.listStartupKeys(startupId, limit, cursor);
  revokeApiKey: Port<'revokeApiKey'> = (tenantId, keySha256, at) => this.tenants.revokeApiKey(tenantId, keySha256, at);

  openFacility: Port<'openFacility'> = (f, accounts, grant, fee, idem) => this.facilities.openFacility(f, accounts, grant, fee, idem);
  matureFacility: Port<'matureFacility'> = (id, at) => this.facilities.matureFacility(id, at);
  getFacility: Port<'getFacility'> = (id) => this.facilities.getFacility(id);
  listFacilitiesByLender: Port<'listFacilitiesByLender'> = (lenderId, limit, cursor) => this.facilities.listFacilitiesByLender(lenderId, limit, cursor);
  listFacilitiesByStartup: Port<'listFacilitiesByStartup'> = (startupId, limit) => this.facilities.listFacilitiesByStartup(startupId, limit);
  setFacilityFrozen: Port<'setFacilityFrozen'> = (id, frozen, reason, at) => this.facilities.setFacilityFrozen(id, frozen, reason, at);
  recoverFacility: Port<'recoverFacility'> = (f, posting, expected, statement, idem) => this.facilities.recoverFacility(f, posting, expected, statement, idem);

  getBalances: Port<'getBalances'> = (accounts) => this.ledger.getBalances(accounts);
  getBalancesSnapshot: Port<'getBalancesSnapshot'> = (accounts) => this.ledger.getBalancesSnapshot(accounts);
  listLines: Port<'listLines'> = (account, limit, cursor) => this.ledger.listLines(account, limit, cursor);
  spendBetween: Port<'spendBetween'> = (facilityId, fromIso, toIso) => this.ledger.spendBetween(facilityId, fromIso, toIso);
  getPosting: Port<'getPosting'> = (id) => this.ledger.getPosting(id);
  post: Port<'post'> = (p) => this.ledger.post(p);

  reserve: Port<'reserve'> = (hold, posting) => this.holds.reserve(hold, posting);
  closeHold: Port<'closeHold'> = (hold, posting, status, settled, at, usage) => this.holds.closeHold(hold, posting, status, settled, at, usage);
  getHold: Port<'getHold'> = (id) => this.holds.getHold(id);
  captureHold: Port<'captureHold'> = (hold, posting, amount, usage) => this.holds.captureHold(hold, posting, amount, usage);
  listExpiredHolds: Port<'listExpiredHolds'> = (shard, nowIso, limit) => this.holds.listExpiredHolds(shard, nowIso, limit);
  listUsage: Port<'listUsage'> = (startupId, fromDay, toDay) => this.holds.listUsage(startupId, fromDay, toDay);
  getRequest: Port<'getRequest'> = (startupId, requestId) => this.holds.getRequest(startupId, requestId);

  takeLease: Port<'takeLease'> = (lease, posting) => this.leases.takeLease(lease, posting);
  flushLease: Port<'flushLease'> = (lease, seq, counters, records) => this.leases.flushLease(lease, seq, counters, records);
  getLease: Port<'getLease'> = (id) => this.leases.getLease(id);
  finishClose: Port<'finishClose'> = (id) => this.leases.finishClose(id);
  closeLease: Port<'closeLease'> = (lease, seq, close, at) => this.leases.closeLease(lease, seq, close, at);
  listLeasesToSweep: Port<'listLeasesToSweep'> = (shard, nowIso, limit) => this.leases.listLeasesToSweep(shard, nowIso, limit);

  listAccounts: Port<'listAccounts'> = (shard, limit, cursor) => this.audit.listAccounts(shard, limit, cursor);
  sumLines: Port<'sumLines'> = (account) => this.audit.sumLines(account);
}
