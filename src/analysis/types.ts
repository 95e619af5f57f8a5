// The analysis types, defined with the wire contract in protocol/ and re-exported for the analyzers.
export * from "../protocol/analysis.ts";
