// The topic taxonomy of the built-in analyzer: its type, the documented default, and the loader for
// ANALYSIS_TOPICS_FILE (validation is pure; loadTopicTaxonomy reads one file and never throws).
import { readFileSync } from "node:fs";

/**
 * Topics and the words that signal them, as in the file format: `{"topics": {"sleep": ["sleep", "insomnia"]}}`.
 * Terms are single words or short phrases, matched on lemmas and Porter stems, so "sleep" also matches "slept" and
 * "sleeping" and "pull request" matches "pull requests". Topic names are lower case (letters, digits, "_", "-").
 */
export interface TopicTaxonomy {
  topics: Record<string, readonly string[]>;
}

/** Limits for a taxonomy file, so a bad file fails at start-up rather than slowing every analysis. */
export const TOPIC_LIMITS = { topics: 200, termsPerTopic: 500, termChars: 60, nameChars: 40, fileBytes: 1_048_576 } as const;

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** The default taxonomy: what people in support, team and sales-practice chats talk about. */
export const DEFAULT_TOPICS: TopicTaxonomy = {
  topics: {
    mental_health: ["mental health", "depression", "depressed", "anxiety", "anxious", "panic", "panic attack", "therapy", "therapist", "counsellor", "counselor", "psychiatrist", "antidepressant", "diagnosis", "ptsd", "ocd", "adhd", "bipolar", "burnout", "self-care", "suicidal", "suicide", "self-harm", "cutting", "trauma", "breakdown", "meltdown", "intrusive thoughts"],
    mood: ["mood", "sad", "sadness", "unhappy", "upset", "lonely", "loneliness", "hopeless", "empty", "numb", "cry", "tears", "miserable", "happy", "happiness", "cheerful", "excited", "grateful", "angry", "anger", "frustrated", "stressed", "stress", "overwhelmed", "worried", "worry", "scared", "afraid", "fear", "calm", "emotion", "emotional"],
    sleep: ["sleep", "asleep", "insomnia", "nightmare", "tired", "exhausted", "exhaustion", "nap", "bed", "bedtime", "awake", "wake up", "fatigue", "dream", "snore", "melatonin"],
    work: ["work", "job", "boss", "manager", "colleague", "coworker", "office", "shift", "career", "promotion", "salary", "interview", "fired", "laid off", "layoff", "workload", "overtime", "hr", "workplace", "resign", "quit"],
    family: ["family", "mom", "mum", "mother", "dad", "father", "parent", "brother", "sister", "sibling", "son", "daughter", "child", "kid", "baby", "grandma", "grandmother", "grandpa", "grandfather", "aunt", "uncle", "cousin", "stepdad", "stepmom"],
    relationships: ["relationship", "partner", "boyfriend", "girlfriend", "husband", "wife", "dating", "first date", "breakup", "break up", "divorce", "marriage", "married", "ex", "crush", "in love", "friend", "friendship", "lonely", "cheat", "argument", "fight", "trust"],
    grief: ["grief", "grieve", "grieving", "loss", "died", "death", "funeral", "passed away", "mourning", "bereavement", "memorial", "anniversary of", "widow"],
    substance_use: ["alcohol", "drunk", "drinking", "drink", "beer", "vodka", "wine", "hangover", "sober", "sobriety", "relapse", "weed", "cannabis", "drug", "drugs", "cocaine", "heroin", "opioid", "pills", "overdose", "addiction", "addicted", "smoke", "smoking", "vape", "rehab", "withdrawal"],
    self_esteem: ["self-esteem", "confidence", "worthless", "useless", "failure", "ugly", "stupid", "hate myself", "not good enough", "insecure", "ashamed", "shame", "embarrassed", "pathetic", "loser", "proud of myself", "believe in myself"],
    health: ["health", "doctor", "hospital", "sick", "ill", "illness", "pain", "headache", "migraine", "fever", "flu", "covid", "injury", "surgery", "medication", "medicine", "appointment", "diagnosis", "symptom", "chest pain", "breathe", "allergy", "diet", "exercise", "gym", "weight", "eating", "nurse", "ambulance"],
    money: ["money", "debt", "rent", "bill", "bills", "loan", "pay", "paid", "salary", "budget", "afford", "expensive", "cost", "bank", "credit card", "savings", "mortgage", "price", "cash", "finance", "financial", "overdraft"],
    school: ["school", "exam", "homework", "assignment", "essay", "class", "teacher", "lecture", "university", "uni", "college", "student", "grade", "grades", "study", "studying", "revision", "semester", "course", "degree", "thesis", "professor", "classmate"],
    planning: ["plan", "planning", "schedule", "meeting", "agenda", "roadmap", "sprint", "milestone", "standup", "retro", "retrospective", "priority", "backlog", "estimate", "kickoff", "sync", "calendar", "timeline", "scope", "next steps"],
    bugs: ["bug", "error", "crash", "exception", "stack trace", "fix", "hotfix", "regression", "broken", "failing", "flaky", "issue", "ticket", "debug", "debugging", "incident", "outage", "race condition", "null", "timeout", "build", "pipeline", "ci", "deploy", "rollback", "pull request", "pr", "merge", "code review"],
    deadlines: ["deadline", "due", "due date", "release", "launch", "ship", "shipping", "eta", "overdue", "late", "delay", "delayed", "crunch", "by friday", "end of day", "eod", "cutoff", "time pressure"],
    sales: ["sales", "sale", "prospect", "customer", "client", "pitch", "cold call", "sales call", "demo", "deal", "close the deal", "objection", "quota", "sales pipeline", "discount", "pricing", "proposal", "contract", "follow up", "discovery", "negotiation", "upsell", "churn", "crm"],
  },
};

/**
 * Checks that a parsed value is a topic taxonomy.
 * @returns the taxonomy with names and terms trimmed and lower-cased, or one sentence naming what is wrong.
 */
export function validateTopicTaxonomy(value: unknown): { ok: true; taxonomy: TopicTaxonomy } | { ok: false; error: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, error: 'it must be a JSON object with a "topics" object, like {"topics": {"sleep": ["sleep", "insomnia"]}}' };
  const topics = (value as { topics?: unknown }).topics;
  if (typeof topics !== "object" || topics === null || Array.isArray(topics)) return { ok: false, error: '"topics" must be an object mapping each topic name to a list of words' };
  const entries = Object.entries(topics as Record<string, unknown>);
  if (entries.length === 0) return { ok: false, error: '"topics" is empty: name at least one topic' };
  if (entries.length > TOPIC_LIMITS.topics) return { ok: false, error: `"topics" has ${entries.length} topics; at most ${TOPIC_LIMITS.topics} are allowed` };
  const out: Record<string, string[]> = {};
  for (const [rawName, terms] of entries) {
    const name = rawName.trim().toLowerCase();
    if (!NAME.test(name) || name.length > TOPIC_LIMITS.nameChars) return { ok: false, error: `topic name "${rawName.slice(0, 60)}" must be 1-${TOPIC_LIMITS.nameChars} lower-case letters, digits, "_" or "-"` };
    if (!Array.isArray(terms)) return { ok: false, error: `topic "${name}" must map to a list of words` };
    if (terms.length === 0) return { ok: false, error: `topic "${name}" has no words` };
    if (terms.length > TOPIC_LIMITS.termsPerTopic) return { ok: false, error: `topic "${name}" has ${terms.length} words; at most ${TOPIC_LIMITS.termsPerTopic} are allowed` };
    const clean: string[] = [];
    for (const [i, term] of terms.entries()) {
      if (typeof term !== "string" || term.trim() === "") return { ok: false, error: `word ${i + 1} of topic "${name}" must be a non-empty string` };
      if (term.length > TOPIC_LIMITS.termChars) return { ok: false, error: `word ${i + 1} of topic "${name}" is longer than ${TOPIC_LIMITS.termChars} characters` };
      clean.push(term.trim().toLowerCase());
    }
    out[name] = clean;
  }
  return { ok: true, taxonomy: { topics: out } };
}

/**
 * Reads and validates a taxonomy file (ANALYSIS_TOPICS_FILE). Never throws.
 * @returns the taxonomy, or one readable sentence for start-up config validation (missing file, not JSON, wrong shape).
 */
export function loadTopicTaxonomy(path: string): { ok: true; taxonomy: TopicTaxonomy } | { ok: false; error: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : code === "EISDIR" ? "is a directory, not a file" : "cannot be read";
    return { ok: false, error: `The topics file ${path} ${why}.` };
  }
  if (Buffer.byteLength(text) > TOPIC_LIMITS.fileBytes) return { ok: false, error: `The topics file ${path} is larger than ${TOPIC_LIMITS.fileBytes} bytes.` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `The topics file ${path} is not valid JSON (${(err as Error).message.slice(0, 120)}).` };
  }
  const result = validateTopicTaxonomy(parsed);
  if (!result.ok) return { ok: false, error: `The topics file ${path} is not a topic taxonomy: ${result.error}.` };
  return result;
}
