/**
 * Approvals without a person (`agentd run`, piped `agentd chat`): `--allow TOOL[:MATCH]` rules
 * (the policy's rule language, protocol/rules.ts) and `--yes` answer `permission/request` here,
 * in the client. Only calls the server's policy would ask about reach us, so a configured deny
 * still denies. What no flag allows is denied, with a reason the model sees.
 */
import {
  parseRuleFlag, ruleFlag, ruleMatches,
  type ApprovalRule, type PermissionRequestParams, type PermissionRequestResult,
} from '../../protocol/client/node.js';
import { UsageError } from './connect.js';

export interface ApprovalFlags {
  /** `--allow`, repeatable: TOOL or TOOL:MATCH. */
  allow?: string[];
  /** `--yes`: allow every call the policy would ask about. */
  yes?: boolean;
}

export interface AutoApprover {
  /** Whether any flag was given (then nothing is asked at a terminal). */
  readonly active: boolean;
  /** The answer for a request, and one line for stderr saying what happened. */
  answer(req: PermissionRequestParams): { result: PermissionRequestResult; line: string };
}

export function autoApprover(flags: ApprovalFlags): AutoApprover {
  let rules: ApprovalRule[];
  try {
    rules = (flags.allow ?? []).map((a) => parseRuleFlag(a));
  } catch (err) {
    throw new UsageError(`--allow: ${(err as Error).message}`);
  }
  const what = (req: PermissionRequestParams) => (req.summary.startsWith(req.tool) ? req.summary : `${req.tool}: ${req.summary}`);
  return {
    active: rules.length > 0 || Boolean(flags.yes),
    answer(req) {
      const input = (req.input ?? {}) as Record<string, unknown>;
      const rule = rules.find((r) => ruleMatches(r, req.tool, input));
      if (rule) return { result: { decision: 'allow_once' }, line: `allowed ${what(req)} (--allow ${ruleFlag(rule)})` };
      if (flags.yes) return { result: { decision: 'allow_once' }, line: `allowed ${what(req)} (--yes)` };
      return {
        result: { decision: 'deny', reason: `no --allow rule or --yes covers ${req.tool} in this unattended run; ask the user to rerun with --allow ${req.tool} if it is needed` },
        line: `denied ${what(req)} (rerun with --allow ${req.tool}${req.tool === 'run_command' ? ` or --allow 'run_command:<command pattern>'` : ''}, or --yes)`,
      };
    },
  };
}
