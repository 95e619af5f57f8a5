// Protocol v1: the wire contract shared by the server and the client SDK.
export * from "./errors.ts";
export * from "./types.ts";
export * from "./frames.ts";
