// The analysis of one message and a crisis alert, exactly as they go on the wire and into storage (pure types).

export const RISK_LEVELS = ["none", "low", "medium", "high"] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

/** Orders risk levels: none < low < medium < high. */
export function riskRank(level: RiskLevel): number {
  return RISK_LEVELS.indexOf(level);
}

/** The higher of two levels (a second analyzer may raise a risk, never lower it). */
export function higherRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}

export interface Sentiment {
  /** In [-1, 1]. */
  score: number;
  /** "positive" | "neutral" | "negative" first; further labels (emotions) may follow. */
  labels: string[];
  /** In [0, 1]. */
  confidence: number;
}

export interface Topics {
  /** Most relevant first. */
  topics: string[];
  /** relevance[i] in [0, 1] belongs to topics[i]. */
  relevance: number[];
  /** A short phrase describing what the message is about (may be ""). */
  context: string;
}

export interface Crisis {
  risk_level: RiskLevel;
  /** What was detected: "<category>: <phrase that matched>", e.g. "suicidal_ideation: kill myself". */
  triggers: string[];
  /** A sentence for the moderator, graded by level. */
  recommended_action: string;
}

/** What an analyzer computes for one message. */
export interface AnalysisCore {
  sentiment: Sentiment;
  topics: Topics;
  crisis: Crisis;
  /** "builtin/1" | "llm/<model>" | "builtin/1+llm/<model>" */
  analyzer: string;
}

/** A stored analysis: the core plus when it was made (ISO 8601). */
export interface Analysis extends AnalysisCore {
  at: string;
}

export type AlertStatus = "open" | "acknowledged" | "resolved";

/** A crisis alert raised for one message whose risk is at or above ALERT_MIN_RISK. */
export interface Alert {
  id: string;
  session: string;
  seq: number;
  messageId: string;
  userId: string;
  risk_level: RiskLevel;
  triggers: string[];
  recommended_action: string;
  status: AlertStatus;
  /** ISO 8601 */
  createdAt: string;
  acknowledgedBy?: string;
  acknowledgedAt?: string;
  resolvedBy?: string;
  resolvedAt?: string;
  note?: string;
}

/** The standard sentence for each level: when a model gave none, and in webhooks sent without content. */
export const DEFAULT_RECOMMENDED_ACTIONS: Record<RiskLevel, string> = {
  none: "No action needed.",
  low: "Keep an eye on the conversation.",
  medium: "Review the conversation soon and consider reaching out to the person.",
  high: "Review now and reach out to the person; follow your emergency procedure if they may be in danger.",
};
