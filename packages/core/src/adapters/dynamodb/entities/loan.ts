/**
 * The loan book (loans.ts): one entry per facility, written with the opening, in one of LOAN_SHARDS partitions
 * (LOANS#<shard>, sk FAC#<facility id>) so the loan-servicing schedule walks them by partition. It records how far
 * servicing went (fees posted, maturity told, statements issued); writes are conditioned on its version.
 */
import { LOAN_SHARDS, type LoanBookEntry } from '../../../loan-service.js';
import { shardOf } from '../../../ids.js';
import type { Key } from './keys.js';

export const loanPk = (shard: number): string => `LOANS#${shard}`;
export const loanKey = (facilityId: string): Key => ({ pk: loanPk(shardOf(facilityId, LOAN_SHARDS)), sk: `FAC#${facilityId}` });

export const loanItem = (e: LoanBookEntry) => ({ ...loanKey(e.facility_id), type: 'loan', ...e });

export const toLoanEntry = (i: Record<string, unknown>): LoanBookEntry => ({
  facility_id: i.facility_id as string,
  servicing_through: i.servicing_through as number,
  matured_told: i.matured_told === true,
  statements_through: (i.statements_through ?? null) as string | null,
  version: i.version as number,
});
