/**
 * vitest globalSetup: ONE in-memory DynamoDB Local for the whole run (the same local/dynamodb.ts that
 * `npm start` uses). Test files reach it through `inject('dynamodbEndpoint')` (see test/setup/table.ts) and
 * through the SDK's own AWS_ENDPOINT_URL_DYNAMODB, set here with a region and fake credentials so a client
 * created with no config in a test talks to this instance and never to AWS. Stopped at teardown.
 */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../local/dynamodb.js';
import { setLocalAwsEnv } from '../../local/aws.js';
import { buildWeb } from '../../scripts/build-web.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

let ddb: DynamoDbLocal | undefined;

export async function setup(project: TestProject): Promise<void> {
  // The dashboards' bundle: the browser tests load it and the Web stack uploads it (its folder must exist at synth).
  await buildWeb({ quiet: true });
  ddb = await startDynamoDbLocal({ inMemory: true });
  // Forked test workers inherit this environment.
  setLocalAwsEnv({ dynamodb: ddb.endpoint });
  project.provide('dynamodbEndpoint', ddb.endpoint);
}

export async function teardown(): Promise<void> {
  await ddb?.stop();
  ddb = undefined;
}
