/**
 * FacilityStore on the table: a facility opens with its accounts and grant in one transaction; freezing
 * flags the record and its available account together; recovery moves what is left under a pinned balance.
 */
import { facilityAccount, type AccountSpec, type Posting } from '../../ledger.js';
import type { Facility, RecoveryStatement } from '../../facilities.js';
import { InvariantError } from '../../money.js';
import type { FacilityStore, IdempotencyClaim, Page, PostResult } from '../../store.js';
import { accountItem, accountKey } from './entities/account.js';
import { facilityItem, facilityKey, toFacility } from './entities/facility.js';
import { lineItem } from './entities/line.js';
import { postingItem } from './entities/posting.js';
import { recoveryItem } from './entities/recovery.js';
import { loanItem } from './entities/loan.js';
import type { DynamoIdempotency } from './idempotency.js';
import { postingItems } from './posting-writes.js';
import { ContentionError, type Table, type Tagged } from './table.js';
import { transact } from './transact.js';

export class DynamoFacilityStore implements FacilityStore {
  constructor(
    private readonly table: Table,
    private readonly idempotency: DynamoIdempotency,
  ) {}

  async openFacility(f: Facility, accounts: AccountSpec[], grant: Posting, fee: Posting | null, idem?: IdempotencyClaim) {
    // A transaction may not touch one item twice, so the accounts are created with the grant already in
    // their balance (and its one line counted), beside the grant's posting and line items.
    const granted = new Map(grant.lines.map((l) => [l.account, l.amount_micros]));
    const opening = (a: AccountSpec) => {
      const amount = granted.get(a.id);
      return amount === undefined ? accountItem(a, f.created_at) : { ...accountItem(a, f.created_at), balance_micros: amount, line_count: 1 };
    };
    const tagged: Tagged[] = [
      { item: this.table.put(facilityItem(f)), tag: 'facility' },
      ...accounts.map((a) => ({ item: this.table.put(opening(a)), tag: 'account' })),
      { item: this.table.put(postingItem(grant)), tag: 'posting' },
      ...grant.lines.map((line) => ({ item: this.table.put(lineItem(grant, line)), tag: 'line' })),
      // The origination fee (loans.ts: the loan's own accounts, created by this first posting) and the loan's
      // entry in the book the loan-servicing schedule walks.
      ...(fee ? postingItems(this.table, fee) : []),
      { item: this.table.put(loanItem({ facility_id: f.id, servicing_through: 0, matured_told: false, statements_through: null, version: 1 })), tag: 'loan' },
    ];
    return this.idempotency.create(f, tagged, idem, f.created_at);
  }

  async getFacility(id: string) {
    const i = await this.table.get(facilityKey(id));
    return i ? toFacility(i) : null;
  }

  async listFacilitiesByLender(lenderId: string | null, limit: number, cursor?: string): Promise<Page<Facility>> {
    if (lenderId === null) throw new InvariantError('listing facilities needs a lender');
    const page = await this.table.listIndex('byLender', 'gsi1', `LENDER#${lenderId}`, 'FACILITY#', { limit, cursor, newestFirst: true });
    return { items: page.items.map(toFacility), cursor: page.cursor };
  }

  async listFacilitiesByStartup(startupId: string, limit: number): Promise<Facility[]> {
    // Earliest term end first: the SPEC §3 draw order.
    return (await this.table.listIndex('byStartup', 'gsi2', `STARTUP#${startupId}`, 'FACILITY#', { limit })).items.map(toFacility);
  }

  async setFacilityFrozen(id: string, frozen: boolean, reason: string | null, at: string): Promise<Facility | null> {
    const f = await this.getFacility(id);
    if (!f) return null;
    if (f.status === 'recovered' || f.status === 'matured') return f;
    return this.setStatus(id, {
      UpdateExpression: 'SET #s = :s, frozen_reason = :r, frozen_at = :at',
      ConditionExpression: 'attribute_exists(pk) AND #s <> :recovered AND #s <> :matured',
      ExpressionAttributeValues: { ':s': frozen ? 'frozen' : 'active', ':r': reason, ':at': frozen ? at : null, ':recovered': 'recovered', ':matured': 'matured' },
    }, frozen, at);
  }

  /** Past its term end: the record matured and its available account frozen (no new spend), atomically; the facility as stored after. */
  async matureFacility(id: string, at: string): Promise<Facility | null> {
    return this.setStatus(id, {
      UpdateExpression: 'SET #s = :matured, matured_at = :at',
      ConditionExpression: 'attribute_exists(pk) AND (#s = :active OR #s = :frozen)',
      ExpressionAttributeValues: { ':matured': 'matured', ':active': 'active', ':frozen': 'frozen', ':at': at },
    }, true, at);
  }

  /** The facility record's status update and its available account's freeze flag, in one transaction; the facility after. */
  private async setStatus(id: string, status: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> }, frozen: boolean, at: string): Promise<Facility | null> {
    const out = await transact(this.table.doc, [
      { Update: { TableName: this.table.name, Key: facilityKey(id), ...status, ExpressionAttributeNames: { '#s': 'status' } } },
      {
        Update: {
          TableName: this.table.name,
          // The account a reservation's debit checks for the freeze (reservePosting's requires_unfrozen line).
          Key: accountKey(facilityAccount(id, 'available')),
          UpdateExpression: 'SET frozen = :b, updated_at = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':b': frozen, ':at': at },
        },
      },
    ]);
    if (!out.ok && out.reason === 'contention') throw new ContentionError('the store is busy; retry');
    return this.getFacility(id);
  }

  async recoverFacility(f: Facility, posting: Posting | null, expectedAvailable: number, statement: RecoveryStatement, idem?: IdempotencyClaim): Promise<PostResult> {
    const tagged: Tagged[] = [];
    if (idem) tagged.push(this.idempotency.claimItem(idem, statement.recovered_at));
    // On default a frozen facility becomes recovered; at maturity a matured one stays matured, recovered once.
    const update = f.status === 'matured'
      ? { UpdateExpression: 'SET recovered_at = :at', ConditionExpression: '#s = :matured AND (attribute_not_exists(recovered_at) OR recovered_at = :null)', ExpressionAttributeValues: { ':matured': 'matured', ':null': null, ':at': statement.recovered_at } }
      : { UpdateExpression: 'SET #s = :recovered, recovered_at = :at', ConditionExpression: '#s = :frozen', ExpressionAttributeValues: { ':recovered': 'recovered', ':frozen': 'frozen', ':at': statement.recovered_at } };
    tagged.push({
      tag: 'facility',
      item: { Update: { TableName: this.table.name, Key: facilityKey(f.id), ...update, ExpressionAttributeNames: { '#s': 'status' }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
    });
    tagged.push({ item: this.table.put(recoveryItem(statement)), tag: 'recovery' });
    if (posting) tagged.push(...postingItems(this.table, posting, new Map([[facilityAccount(f.id, 'available'), expectedAvailable]])));
    const out = await transact(this.table.doc, tagged.map((t) => t.item));
    if (out.ok) return { ok: true, replayed: false };
    if (out.reason === 'contention') return { ok: false, code: 'contention' };
    if (idem && out.failed.has(0)) {
      const r = await this.idempotency.replayOf(idem);
      return r.ok ? { ok: true, replayed: true } : r;
    }
    return { ok: false, code: 'balance_changed' };
  }
}
