/**
 * bench:proxy's CompuX under test, in a process of its own as `npm start` runs it (Portkey's gateway runs in
 * its own process too; the bench's client and the simulated provider share the parent's). Started on a table
 * the parent has seeded, against the parent's DynamoDB endpoint (its counting proxy); prints one JSON line
 * {"url": ...} once it listens, and stops on SIGTERM.
 *
 *   node --import tsx bench/lib/runtime-child.ts   (env BENCH_DDB_ENDPOINT, BENCH_TABLE, BENCH_ADMIN_KEY)
 */
import { startRuntime } from '../../local/runtime.js';

const endpoint = process.env.BENCH_DDB_ENDPOINT;
const table = process.env.BENCH_TABLE;
const adminKey = process.env.BENCH_ADMIN_KEY;
if (!endpoint || !table || !adminKey) throw new Error('runtime-child: BENCH_DDB_ENDPOINT, BENCH_TABLE and BENCH_ADMIN_KEY are required');
const rt = await startRuntime({ port: 0, dynamodbEndpoint: endpoint, tableName: table, adminKey, scheduler: false });
process.stdout.write(`${JSON.stringify({ url: rt.baseUrl })}\n`);
const stop = () => void rt.stop().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
