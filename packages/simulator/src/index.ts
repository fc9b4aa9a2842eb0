export { startSimulator, type Simulator } from './server.js';
export type { SimulatorStats } from './stats.js';
export { DEFAULT_MODELS, type SimModel, type SimulatorOptions, type VerifyToken } from './options.js';
export { parseFault, FaultSpecError, type Fault, type FaultName } from './faults.js';
export {
  countTokens,
  tokenize,
  countChatPromptTokens,
  chatExtrasText,
  messageText,
  CHAT_TOKENS_PER_MESSAGE,
  CHAT_REPLY_PRIMING_TOKENS,
  type ChatMessageLike,
} from './tokenizer.js';
export { generateTokens, embeddingVector } from './generate.js';
