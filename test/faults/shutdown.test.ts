// SIGTERM under load: every message the server committed had its ack delivered before the 1001 close; kill -9
// under load: nothing acknowledged is lost and a resend with the same clientMsgId never duplicates.
import { expect, test } from "bun:test";
import { kill9Trial, sigtermTrial } from "./trials.ts";

test("SIGTERM under pipelined load from 16 connections: every stored message was acknowledged before the 1001 close", async () => {
  const r = await sigtermTrial({ connections: 16, depth: 64, acksBefore: 3000 });
  expect(r.exitCode).toBe(0);
  expect(r.closeCodes).toEqual([1001]);
  expect(r.acked).toBeGreaterThanOrEqual(3000);
  expect(r.committedUnacked).toBe(0);
  expect(r.ackedLost).toBe(0);
  expect(r.stored).toBe(r.acked);
}, 60_000);

test("kill -9 under pipelined load, twice: no acknowledged message lost, none stored twice after resending every one", async () => {
  for (let trial = 0; trial < 2; trial++) {
    const r = await kill9Trial({ connections: 3, depth: 32, acksBefore: 600 });
    expect(r.acked).toBeGreaterThanOrEqual(600);
    expect(r.ackedLost).toBe(0);
    expect(r.duplicates).toBe(0);
    expect(r.gaps).toBe(0);
    expect(r.resent).toBe(r.sent);
  }
}, 60_000);
