// The program that tests/tests/errors_node.rs runs with the real
// @sentry/node: `node shop.js <dsn> <scenario>`. `handled` reports the same
// bug twice (caught, from nested functions) and one message; `crash` dies
// of an uncaught exception, which the SDK reports before the process exits.
"use strict";

const Sentry = require("@sentry/node");

const [dsn, scenario] = process.argv.slice(2);

Sentry.init({
  dsn,
  release: "node-app@1.2.3",
  environment: "e2e",
  serverName: "e2e-node-host",
  debug: true,
});
Sentry.setTag("team", "payments");
Sentry.setUser({ id: "user-7", email: "grace@example.com" });

class PaymentDeclined extends Error {
  constructor(message) {
    super(message);
    this.name = "PaymentDeclined";
  }
}

function chargeCard(orderId) {
  throw new PaymentDeclined(`card declined for order ${orderId}`);
}

function checkout(orderId) {
  Sentry.addBreadcrumb({ category: "cart", message: `checkout ${orderId}`, level: "info" });
  return chargeCard(orderId);
}

function capture(work, ...args) {
  try {
    work(...args);
  } catch (error) {
    Sentry.captureException(error);
  }
}

function loadInventory(sku) {
  const stock = {};
  return stock[sku].count;
}

// Waits until the SDK has sent everything captured so far. The SDK sends
// events concurrently; flushing after each keeps their order, which the
// test checks.
async function flushed() {
  if (!(await Sentry.flush(5000))) {
    throw new Error("the SDK did not flush in time");
  }
}

async function main() {
  if (scenario === "handled") {
    // The same bug twice. Each report starts after an await, so both have
    // the same stack (main, resumed by the event loop), and goes out alone.
    for (const orderId of ["N-1001", "N-1002"]) {
      await flushed();
      capture(checkout, orderId);
    }
    await flushed();
    Sentry.captureMessage("inventory sync skipped 3 items", "warning");
    await flushed();
  } else if (scenario === "crash") {
    // From the event loop, not from main: nothing catches it, so the SDK's
    // uncaught-exception handler reports it, flushes and exits with 1.
    setTimeout(() => loadInventory("LAMP-7"), 0);
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
