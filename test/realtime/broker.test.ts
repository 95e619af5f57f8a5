// The in-process broker (one node) against the shared broker contract.
import { InProcessBroker } from "../../src/sessions/broker.ts";
import { describeBroker } from "../contract/broker.ts";

describeBroker("in-process", async () => ({ brokers: [new InProcessBroker()], close: async () => {} }), { nodes: 1 });
