// The face engine's waiting line: one FIFO lane per priority, served strictly in priority order (see
// TemplatePriority). Photos wait here rather than in the worker pool so a photo whose budget runs out while
// waiting can simply be dropped.
import { TEMPLATE_PRIORITIES, type TemplatePriority } from "./engine.js";

export class PriorityQueue<T> {
  private readonly lanes = new Map<TemplatePriority, T[]>(TEMPLATE_PRIORITIES.map((p) => [p, []]));

  get size(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.length;
    return n;
  }

  push(item: T, priority: TemplatePriority = "enrolment"): void {
    this.lanes.get(priority)!.push(item);
  }

  /** The oldest item of the highest non-empty priority. */
  shift(): T | undefined {
    for (const lane of this.lanes.values()) if (lane.length > 0) return lane.shift();
    return undefined;
  }

  /** Removes one item wherever it waits; false when it is no longer waiting. */
  remove(item: T): boolean {
    for (const lane of this.lanes.values()) {
      const i = lane.indexOf(item);
      if (i >= 0) {
        lane.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  /** Empties the queue, oldest first by priority. */
  drain(): T[] {
    const all: T[] = [];
    for (const lane of this.lanes.values()) all.push(...lane.splice(0));
    return all;
  }
}
