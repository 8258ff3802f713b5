// Sends HL7v2 messages to an MLLP listener with node-hl7-client (a client
// no one in this project wrote) over mutual TLS, and prints each
// acknowledgement's MSA-1 and MSA-2 as a JSON line.
// Usage: node send.mjs <port> <messages.json> <ca.crt> <client.crt> <client.key>
import { readFileSync } from "node:fs";
import { Client, Message } from "node-hl7-client";

const [port, messagesFile, ca, cert, key] = process.argv.slice(2);
const messages = JSON.parse(readFileSync(messagesFile, "utf8"));
const acks = [];
let acked = () => {};

const client = new Client({
  host: "127.0.0.1",
  tls: { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), servername: "localhost" },
});
const conn = client.createConnection({ port: Number(port), waitAck: true, maxConnectionAttempts: 3 }, async (res) => {
  const ack = res.getMessage();
  acks.push({ code: ack.get("MSA.1").toString(), control: ack.get("MSA.2").toString() });
  acked();
});
conn.on("client.error", (err) => { console.error("client error", String(err)); process.exit(2); });
const timer = setTimeout(() => { console.error(`timed out after ${acks.length} ACKs`); process.exit(3); }, 20000);

// The client queues what is sent before it is connected, and with waitAck
// sends the next message only after the last one's ACK: send one at a time.
await new Promise((resolve) => conn.once("connect", resolve));
for (const text of messages) {
  const ack = new Promise((resolve) => { acked = resolve; });
  await conn.sendMessage(new Message({ text }));
  await ack;
}
clearTimeout(timer);
for (const a of acks) console.log(JSON.stringify(a));
await conn.close();
process.exit(0);
