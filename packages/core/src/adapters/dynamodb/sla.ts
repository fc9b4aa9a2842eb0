/**
 * SLA samples and standing on the table: samples are added to hourly counters (one UpdateItem per
 * provider-hour touched), standing is computed from the window's counters, and a change of standing is
 * written to the routing record together with its alert in one transaction, conditioned on the standing
 * it replaces, so two evaluators cannot raise the same alert twice.
 */
import { randomBytes } from 'node:crypto';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { transact, unlessConditionFailed } from './transact.js';
import { ContentionError } from './table.js';
import { LATENCY_BUCKETS, bucketSamples, hourOf, windowStartHour, type SlaAlert, type SlaBucket, type SlaRecorder, type SlaSample, type SlaStanding } from '../../sla.js';
import { SLA_ALERT_PREFIX, SLA_BUCKET_TTL_DAYS, slaAlertKey, slaBucketKey } from './entities/sla.js';
import { routingProviderKey, routingWrite } from './entities/routing.js';
import { decodeCursor, encodeCursor, withCursor } from './cursor.js';

/** Provider-hours one record() call may touch (a request touches at most its attempts). */
const MAX_BUCKETS_PER_RECORD = 64;
export const MAX_ALERTS_PAGE = 100;

export class DynamoSla implements SlaRecorder {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async record(samples: readonly SlaSample[]): Promise<void> {
    const buckets = bucketSamples(samples);
    if (buckets.length > MAX_BUCKETS_PER_RECORD) throw new RangeError(`at most ${MAX_BUCKETS_PER_RECORD} provider-hours per record`);
    await Promise.all(
      buckets.map(({ provider_id, bucket }) => {
        const names: Record<string, string> = { '#s': 'samples', '#e': 'errors' };
        const values: Record<string, unknown> = { ':s': bucket.samples, ':e': bucket.errors, ':ttl': Math.floor(Date.parse(`${bucket.hour}:00:00Z`) / 1000) + SLA_BUCKET_TTL_DAYS * 86_400 };
        const adds = ['#s :s', '#e :e'];
        bucket.latency.forEach((n, i) => {
          if (n === 0) return;
          names[`#l${i}`] = `l${i}`;
          values[`:l${i}`] = n;
          adds.push(`#l${i} :l${i}`);
        });
        return this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: slaBucketKey(provider_id, bucket.hour),
            UpdateExpression: `ADD ${adds.join(', ')} SET #t = if_not_exists(#t, :type), #ttl = :ttl`,
            ExpressionAttributeNames: { ...names, '#t': 'type', '#ttl': 'ttl' },
            ExpressionAttributeValues: { ...values, ':type': 'sla_bucket' },
          }),
        );
      }),
    );
  }

  /** The window's hourly counters for one provider, oldest first. */
  async buckets(providerId: string, nowIso: string): Promise<SlaBucket[]> {
    const out: SlaBucket[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': slaBucketKey(providerId, '').pk, ':from': `HOUR#${windowStartHour(nowIso)}`, ':to': `HOUR#${hourOf(nowIso)}` },
          ExclusiveStartKey: start,
        }),
      );
      for (const i of page.Items ?? []) {
        const latency = new Array<number>(LATENCY_BUCKETS).fill(0).map((_, k) => Number(i[`l${k}`] ?? 0));
        out.push({ hour: String(i.sk).slice('HOUR#'.length), samples: Number(i.samples ?? 0), errors: Number(i.errors ?? 0), latency });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /**
   * Writes a standing to the routing record. A change of meeting/breaching also writes its alert, only if
   * the record still says `prevMeeting`. Returns the alert written, if any.
   */
  async applyStanding(providerId: string, s: SlaStanding, prevMeeting: boolean, prevErrorPpm: number, at: string): Promise<SlaAlert | null> {
    const key = routingProviderKey(providerId);
    if (s.meeting === prevMeeting) {
      if (s.recent_error_ppm === prevErrorPpm) return null;
      await unlessConditionFailed(
        routingWrite(
          this.doc.send(
            new UpdateCommand({
              TableName: this.tableName, Key: key,
              UpdateExpression: 'SET #p.recent_error_ppm = :e',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#p': 'provider' },
              ExpressionAttributeValues: { ':e': s.recent_error_ppm },
            }),
          ),
        ),
      );
      return null;
    }
    const alert: SlaAlert = { provider_id: providerId, kind: s.meeting ? 'recovered' : 'breach', tier: s.tier, at, uptime_ppm: s.uptime_ppm, latency_ms_p95: s.latency_ms_p95, samples: s.samples, reasons: s.reasons };
    const out = await routingWrite(transact(this.doc, [
      {
        Update: {
          TableName: this.tableName, Key: key,
          UpdateExpression: 'SET #p.sla_meeting = :m, #p.recent_error_ppm = :e',
          ConditionExpression: '#p.sla_meeting = :prev',
          ExpressionAttributeNames: { '#p': 'provider' },
          ExpressionAttributeValues: { ':m': s.meeting, ':e': s.recent_error_ppm, ':prev': prevMeeting },
        },
      },
      { Put: { TableName: this.tableName, Item: { ...slaAlertKey(providerId, at, randomBytes(4).toString('hex')), type: 'sla_alert', alert } } },
    ]));
    if (out.ok) return alert;
    if (out.reason === 'condition_failed') return null; // another evaluator got there first
    throw new ContentionError(`the routing record of ${providerId} kept conflicting`);
  }

  /** A provider's alerts, newest first, paginated. */
  async alerts(providerId: string, limit: number, cursor?: string): Promise<{ alerts: SlaAlert[]; next_cursor: string | null }> {
    const page = await withCursor(cursor !== undefined, () => this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': `PROVIDER#${providerId}`, ':p': SLA_ALERT_PREFIX },
        ScanIndexForward: false,
        Limit: Math.min(Math.max(1, limit), MAX_ALERTS_PAGE),
        ExclusiveStartKey: decodeCursor(cursor, { field: 'pk', value: `PROVIDER#${providerId}` }),
      }),
    ));
    return { alerts: (page.Items ?? []).map((i) => i.alert as SlaAlert), next_cursor: encodeCursor(page.LastEvaluatedKey) };
  }
}
