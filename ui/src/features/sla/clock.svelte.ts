import { createSubscriber } from "svelte/reactivity";

/** How often countdowns move. */
export const TICK_MS = 1_000;

let current = Date.now();

// One timer for the whole app, running only while something reads the clock.
const subscribe = createSubscriber((update) => {
  current = Date.now();
  const timer = setInterval(() => {
    current = Date.now();
    update();
  }, TICK_MS);
  return () => clearInterval(timer);
});

/** The shared ticking clock of every SLA countdown: reading `now` in a reactive context re-runs it each tick. */
export const clock = {
  get now(): number {
    subscribe();
    return current;
  },
};
