/**
 * Tools as a modern chat model plays them: `tools` (function tools), `tool_choice` ('none' | 'auto' |
 * 'required' | { type: 'function', function: { name } } | { type: 'allowed_tools', allowed_tools: { mode,
 * tools } }) and `parallel_tool_calls` (default true).
 *
 * The simulated model's behaviour (deterministic):
 *   - 'none', or no tools: it answers in text;
 *   - 'auto': it calls tools, unless the last message is a tool result: then it answers in text, so a
 *     client's round trip (call → tool result → answer) ends;
 *   - 'required' or a named function: it always calls (that is what those choices promise);
 *   - it calls every allowed tool once when parallel_tool_calls is on (MAX_PARALLEL_CALLS at most), else
 *     only the first (or the named one);
 *   - each call's `arguments` is JSON that fits the tool's `parameters` schema (json-schema-values.ts).
 * Custom (free-text) tools are accepted but never called: the simulated model only calls function tools.
 */
import { bad, isObject } from './errors.js';
import { seedFrom } from './generate.js';
import { valueForSchema } from './json-schema-values.js';

/** Calls one reply makes at most when parallel calls are on: a long tool list still gets a bounded reply. */
export const MAX_PARALLEL_CALLS = 16;
const MAX_TOOLS = 128;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export interface FunctionTool {
  name: string;
  parameters: unknown;
}

/** What the request asks of tools: which the model calls now (empty: it answers in text). */
export interface ToolPlan {
  /** Tools to call, in order (one when parallel_tool_calls is false). */
  call: FunctionTool[];
}

function parseTools(v: unknown): { functions: FunctionTool[]; count: number } {
  if (v === undefined || v === null) return { functions: [], count: 0 };
  if (!Array.isArray(v)) throw bad("Invalid 'tools': expected an array.", 'tools', 'invalid_type');
  if (v.length > MAX_TOOLS) throw bad(`Invalid 'tools': array too long. Expected an array with maximum length ${MAX_TOOLS}, but got an array with length ${v.length} instead.`, 'tools', 'array_above_max_length');
  const functions: FunctionTool[] = [];
  v.forEach((t, i) => {
    if (!isObject(t)) throw bad(`Invalid type for 'tools[${i}]': expected an object.`, `tools[${i}]`, 'invalid_type');
    if (t.type === 'custom') return;
    if (t.type !== 'function') throw bad(`Invalid value for 'tools[${i}].type': supported values are 'function' and 'custom'.`, `tools[${i}].type`, 'invalid_value');
    const fn = t.function;
    if (!isObject(fn)) throw bad(`Missing required parameter: 'tools[${i}].function'.`, `tools[${i}].function`, 'missing_required_parameter');
    if (typeof fn.name !== 'string' || !FUNCTION_NAME.test(fn.name)) {
      throw bad(`Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, `tools[${i}].function.name`, 'invalid_value');
    }
    if (fn.parameters !== undefined && !isObject(fn.parameters)) throw bad(`Invalid type for 'tools[${i}].function.parameters': expected an object.`, `tools[${i}].function.parameters`, 'invalid_type');
    functions.push({ name: fn.name, parameters: fn.parameters ?? { type: 'object', properties: {} } });
  });
  return { functions, count: v.length };
}

type Choice = { mode: 'none' | 'auto' | 'required'; names: string[] | null };

function namedFunction(v: Record<string, unknown>, param: string): string {
  const fn = v.function;
  if (!isObject(fn) || typeof fn.name !== 'string') throw bad(`Missing required parameter: '${param}.function.name'.`, `${param}.function.name`, 'missing_required_parameter');
  return fn.name;
}

function parseChoice(v: unknown): Choice {
  if (v === undefined || v === null) return { mode: 'auto', names: null };
  if (v === 'none' || v === 'auto' || v === 'required') return { mode: v, names: null };
  if (!isObject(v)) throw bad("Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or an object.", 'tool_choice', 'invalid_value');
  if (v.type === 'function') return { mode: 'required', names: [namedFunction(v, 'tool_choice')] };
  if (v.type === 'allowed_tools' && isObject(v.allowed_tools)) {
    const a = v.allowed_tools;
    const mode = a.mode === 'required' ? 'required' : 'auto';
    const list = Array.isArray(a.tools) ? a.tools : [];
    const names = list.filter((t): t is Record<string, unknown> => isObject(t) && t.type === 'function').map((t, i) => namedFunction(t, `tool_choice.allowed_tools.tools[${i}]`));
    return { mode, names };
  }
  if (v.type === 'custom') throw bad('This model does not support calling custom tools.', 'tool_choice', 'invalid_value');
  throw bad("Invalid value for 'tool_choice.type': supported values are 'function', 'allowed_tools' and 'custom'.", 'tool_choice.type', 'invalid_value');
}

/** Reads tools / tool_choice / parallel_tool_calls (400s as OpenAI words them) and decides what the model calls. */
export function planTools(body: Record<string, unknown>, lastRole: unknown): ToolPlan {
  const { functions, count } = parseTools(body.tools);
  const choiceGiven = body.tool_choice !== undefined && body.tool_choice !== null;
  if (choiceGiven && count === 0) throw bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice', 'invalid_value');
  const ptc = body.parallel_tool_calls;
  if (ptc !== undefined && ptc !== null && typeof ptc !== 'boolean') throw bad("Invalid type for 'parallel_tool_calls': expected a boolean.", 'parallel_tool_calls', 'invalid_type');
  const choice = parseChoice(body.tool_choice);
  let allowed = functions;
  if (choice.names) {
    for (const name of choice.names) {
      if (!functions.some((f) => f.name === name)) throw bad(`Invalid value for 'tool_choice': no function named '${name}' was specified in the 'tools' parameter.`, 'tool_choice', 'invalid_value');
    }
    allowed = functions.filter((f) => choice.names!.includes(f.name));
  }
  if (choice.mode === 'none' || allowed.length === 0) return { call: [] };
  if (choice.mode === 'auto' && lastRole === 'tool') return { call: [] };
  const parallel = ptc !== false;
  return { call: parallel ? allowed.slice(0, MAX_PARALLEL_CALLS) : allowed.slice(0, 1) };
}

/** One tool call the reply makes: its id, the function's name and the JSON arguments. */
export interface ToolCallText {
  id: string;
  name: string;
  arguments: string;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `call_` and 24 letters/digits, as OpenAI's ids look; a pure function of the seed. */
function callId(seed: number): string {
  let s = seed >>> 0;
  let out = 'call_';
  for (let i = 0; i < 24; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out += ID_ALPHABET[s % ID_ALPHABET.length];
  }
  return out;
}

/** The calls for `plan`, their arguments generated from each tool's schema under `seed` (a choice's seed). */
export function toolCalls(plan: ToolPlan, seed: number): ToolCallText[] {
  return plan.call.map((tool, i) => {
    const s = seedFrom('tool', String(seed), tool.name, String(i));
    return { id: callId(s), name: tool.name, arguments: JSON.stringify(valueForSchema(tool.parameters, s)) };
  });
}
