package ptlab.engine;

/**
 * Why a CPU parked at a scheduling point cannot go on yet (a held lock, IPIs not yet
 * acknowledged). The scheduler never picks a blocked CPU, so waiting costs no steps and a
 * spinning CPU cannot livelock the exploration; a blocked CPU still takes interrupts if they
 * are enabled, as a CPU spinning on a lock does.
 */
public interface Blocker {
    boolean blocks(SimCpu cpu);
}
